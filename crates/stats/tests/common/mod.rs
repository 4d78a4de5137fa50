//! A small ledger for the warehouse's tests: declarations filed, released, closed and amended
//! on a SQLite store through the `Store` trait, as the clearance service would leave them.
//! Shared with `cli/tests/stats_cli.rs` (included by path).
#![allow(dead_code)]

use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use clearance::{decide, Action, Actor, Command, Lane, LaneReason};
use domain::codes::{Direction, OfficeCode, Uscc};
use domain::declaration::Declaration;
use domain::money::Fen;
use serde_json::json;
use store::{AppendRequest, AutomaticReview, DeclarationId, DeclarationKey, Store, SubmitRequest};
use store_sqlite::{SqliteOptions, SqliteStore};

/// One goods line: commodity code, total price, currency, partner (origin for imports,
/// destination for exports).
#[derive(Clone, Debug)]
pub struct Line {
    pub hs: &'static str,
    pub total: &'static str,
    pub currency: &'static str,
    pub country: &'static str,
}

/// What to file.
#[derive(Clone, Debug)]
pub struct Spec {
    pub export: bool,
    pub office: &'static str,
    pub trade_mode: &'static str,
    /// `1` CIF, `3` FOB.
    pub terms: &'static str,
    pub uscc: &'static str,
    pub customs_code: &'static str,
    pub lines: Vec<Line>,
}

pub fn line(
    hs: &'static str,
    total: &'static str,
    currency: &'static str,
    country: &'static str,
) -> Line {
    Line {
        hs,
        total,
        currency,
        country,
    }
}

/// An import at CIF in CNY from Shanghai (office 2233), by a private enterprise.
pub fn import(lines: Vec<Line>) -> Spec {
    Spec {
        export: false,
        office: "2233",
        trade_mode: "0110",
        terms: "1",
        uscc: "91310115MA1K4Q7B4Y",
        customs_code: "3122960123",
        lines,
    }
}

/// An export at FOB from Shenzhen (office 5304).
pub fn export(lines: Vec<Line>) -> Spec {
    Spec {
        export: true,
        office: "5304",
        trade_mode: "0110",
        terms: "3",
        uscc: "91440300MA5FT3XKX8",
        customs_code: "4403964567",
        lines,
    }
}

fn units(hs: &str) -> (&'static str, Option<&'static str>) {
    match hs {
        "8471300000" => ("001", Some("035")),
        "6403990000" => ("025", Some("035")),
        "8517130000" => ("001", None),
        "8542319000" => ("007", None),
        _ => ("035", None),
    }
}

/// China time `y-m-d 10:00`.
pub fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 2, 0, 0).unwrap()
}

pub struct Ledger {
    pub store: SqliteStore,
    pub refdata: refdata::RefData,
    seq: u64,
}

fn officer(office: &str) -> Actor {
    Actor::Officer {
        login: "stats-test".into(),
        office: OfficeCode::parse(office).unwrap(),
    }
}

impl Ledger {
    pub fn open(dir: &Path) -> Ledger {
        Ledger {
            store: SqliteStore::open(dir, SqliteOptions::default()).unwrap(),
            refdata: refdata::RefData::embedded().unwrap(),
            seq: 0,
        }
    }

    /// The typed declaration of a spec, validated against the shipped tables.
    pub fn declaration(&self, spec: &Spec, on: DateTime<Utc>) -> Declaration {
        let date = domain::time::china_date(on).format("%Y-%m-%d").to_string();
        let items: Vec<_> = spec
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let (u1, u2) = units(l.hs);
                let mut item = json!({
                    "item_no": i + 1,
                    "commodity_code": l.hs,
                    "name": "货物",
                    "specification": "品牌|型号",
                    "declared_quantity": "10",
                    "declared_unit": u1,
                    "first_quantity": "10",
                    "first_unit": u1,
                    "unit_price": format!("{:.4}", l.total.parse::<f64>().unwrap() / 10.0),
                    "total_price": l.total,
                    "currency": l.currency,
                    "origin_country": if spec.export { "CHN" } else { l.country },
                    "destination_country": if spec.export { l.country } else { "CHN" },
                    "duty_treatment": "1"
                });
                if let Some(u2) = u2 {
                    item["second_quantity"] = json!("12.5");
                    item["second_unit"] = json!(u2);
                }
                if !spec.export {
                    item["district"] = json!("31159");
                }
                item
            })
            .collect();
        let mut form = json!({
            "direction": if spec.export { "export" } else { "import" },
            "declaration_office": spec.office,
            "entry_exit_office": spec.office,
            "contract_no": "STATS-TEST",
            "ie_date": date,
            "declaration_date": date,
            "trader": {"name": "示例贸易有限公司", "uscc": spec.uscc, "customs_code": spec.customs_code},
            "overseas_party": {"name": "Example Partner Ltd", "address": "1 Example Road"},
            "owner": {"name": "示例贸易有限公司", "uscc": spec.uscc},
            "transport_mode": "2",
            "vessel": "EXAMPLE",
            "voyage_no": "001E",
            "bill_no": format!("BILL{:08}", self.seq),
            "trade_mode": spec.trade_mode,
            "levy_nature": "101",
            "trading_country": spec.lines[0].country,
            "dispatch_country": spec.lines[0].country,
            "package_type": "22",
            "packages": 10,
            "gross_weight_kg": "1000",
            "net_weight_kg": "900",
            "transaction_terms": spec.terms,
            "entry_type": "M",
            "items": items
        });
        if spec.export {
            form["destination_port"] = json!("USLGB");
        } else {
            form["loading_port"] = json!("USSFO");
            form["domestic_port"] = json!("310301");
        }
        domain::validate::validate_json(form.to_string().as_bytes(), &self.refdata)
            .unwrap_or_else(|p| panic!("the test declaration is valid: {p:?}"))
    }

    /// File and accept (green, nothing due: paid).
    pub fn file(&mut self, spec: &Spec, on: DateTime<Utc>) -> DeclarationId {
        self.seq += 1;
        let decl = self.declaration(spec, on);
        let goods_fen: i64 = decl
            .items
            .iter()
            .map(|i| {
                (i.total_price * rust_decimal::Decimal::ONE_HUNDRED)
                    .try_into()
                    .unwrap_or(0i64)
            })
            .sum();
        let uscc = Uscc::parse(spec.uscc).unwrap();
        let req = SubmitRequest {
            client_seq_no: format!("stats-{}", self.seq),
            declarant: uscc,
            direction: if spec.export {
                Direction::Export
            } else {
                Direction::Import
            },
            declaration_office: OfficeCode::parse(spec.office).unwrap(),
            entry_exit_office: OfficeCode::parse(spec.office).unwrap(),
            body_json: serde_json::to_string(&decl).unwrap(),
            actor: Actor::Enterprise { uscc },
            now: on,
            purchase: None,
            agent: None,
            goods_value_fen: Some(Fen(goods_fen)),
        };
        self.store
            .submit_reviewed(
                req,
                AutomaticReview::Accept {
                    lane: Lane::Green,
                    reasons: vec![LaneReason {
                        code: "green".into(),
                        message_zh: "绿色通道".into(),
                        message_en: "green lane".into(),
                    }],
                    assessment: Some(vec![]),
                },
            )
            .unwrap()
            .id
    }

    pub fn step(&self, id: DeclarationId, action: Action, on: DateTime<Utc>) {
        let d = self.store.load(DeclarationKey::Id(id)).unwrap().unwrap();
        let office = d.state.header.as_ref().unwrap().declaration_office;
        let events = decide(
            &d.state,
            &Command {
                actor: officer(office.as_str()),
                action,
            },
            on,
        )
        .expect("the step fits");
        self.store
            .append(AppendRequest {
                id,
                expected_version: d.version,
                events,
            })
            .unwrap();
    }

    pub fn release(&self, id: DeclarationId, on: DateTime<Utc>) {
        self.step(id, Action::Release, on);
    }

    /// Release and confirm the exit (an export's closure).
    pub fn close_export(&self, id: DeclarationId, released: DateTime<Utc>, closed: DateTime<Utc>) {
        self.release(id, released);
        self.step(
            id,
            Action::ConfirmExit {
                manifest_ref: "MANIFEST-1".into(),
            },
            closed,
        );
    }

    /// A new version of a declaration (an officer's correction), as `app::versions` appends it.
    pub fn amend(&self, id: DeclarationId, spec: &Spec, on: DateTime<Utc>) {
        let d = self.store.load(DeclarationKey::Id(id)).unwrap().unwrap();
        let decl = self.declaration(spec, on);
        let version = d.state.version_no.max(1) + 1;
        let office = d.state.header.as_ref().unwrap().declaration_office;
        let record = clearance::version::VersionRecord {
            version,
            source: clearance::version::VersionSource::OfficerCorrection {
                officer: officer(office.as_str()),
                kind: clearance::version::CorrectionKind::CustomsValue,
                reason: "post-clearance audit".into(),
            },
            changes: vec![],
            declaration: serde_json::to_value(&decl).unwrap(),
            risk_relevant: false,
            risk: None,
            reassessment: None,
        };
        self.store
            .append(AppendRequest {
                id,
                expected_version: d.version,
                events: vec![clearance::Event {
                    schema: clearance::Event::SCHEMA,
                    at: on,
                    actor: officer(office.as_str()),
                    office: Some(office),
                    kind: clearance::EventKind::Versioned {
                        record: Box::new(record),
                    },
                }],
            })
            .unwrap();
    }
}
