//! Demo data: offices, enterprises with credit classes, users of every kind, and a few hundred
//! declarations in different states, all made through the real use cases (so they pass the
//! same checks and leave the same audit trail as real work). Deterministic: the same count
//! gives the same declarations and steps; the service's clock decides the dates. With
//! [`load_over_past_hours`] the declarations are filed over the past hours and each step
//! follows the one before after a realistic wait, so clearance times and the day's volumes
//! look like a working day's.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use clearance::{
    CreditClass, EnterpriseFacts, ExaminationResult, FieldChange, Finding, FindingKind, Status,
};
use domain::codes::{OfficeCode, Uscc};
use store::{DeclarationKey, Office};

use crate::access::{Duty, Principal, Role};
use crate::clock::{Clock, PinnableClock};
use crate::error::AppError;
use crate::risk_desk::StaticRegistry;
use crate::service::Clearance;
use crate::steps::Step;
use crate::users::NewUserRequest;

pub mod cargo;
pub mod eport;
pub mod finance;
pub mod risk;

/// The password of every demo user (printed by `jinguan demo`; never use it elsewhere).
pub const DEMO_PASSWORD: &str = "jinguan-demo";

pub const IMPORT_TEMPLATE: &str = include_str!("../../../examples/import-laptops.json");
pub const EXPORT_TEMPLATE: &str = include_str!("../../../examples/export-shoes.json");

/// The demo enterprises: (USCC, name, credit class, discrepancies last year).
pub const ENTERPRISES: [(&str, &str, CreditClass, u32); 4] = [
    (
        "91310115MA1K4Q7B4Y",
        "上海示例电子贸易有限公司 (AEO)",
        CreditClass::AdvancedCertified,
        0,
    ),
    (
        "91440300MA5FT3XKX8",
        "深圳示例鞋业有限公司",
        CreditClass::General,
        0,
    ),
    (
        "91110000600037341L",
        "北京示例进出口有限公司 (discredited)",
        CreditClass::Discredited,
        0,
    ),
    (
        "91310000132149237G",
        "上海示例贸易有限公司",
        CreditClass::General,
        2,
    ),
];

/// The demo customs broker 报关企业 (login `broker-sh`): it holds powers of attorney from
/// `ent-sh` and `ent-sh2` and files in their names (docs/PARTIES.md).
pub const BROKER: (&str, &str) = ("91310115MA1K9B2C7M", "上海示例报关行有限公司 (broker)");

/// One demo login: login, kind, what it is bound to, duties.
#[derive(Clone, Debug)]
pub struct DemoUser {
    pub login: &'static str,
    pub role: Role,
    pub office: Option<&'static str>,
    pub uscc: Option<&'static str>,
    pub agency: Option<&'static str>,
    pub duties: &'static [Duty],
}

const ALL_DUTIES: &[Duty] = &Duty::ALL;
const OFFICE_DUTIES: &[Duty] = &[
    Duty::Reviewer,
    Duty::Inspector,
    Duty::TaxOfficer,
    Duty::ReleaseOfficer,
];

pub fn users() -> Vec<DemoUser> {
    let u = |login, role, office, uscc, agency, duties| DemoUser {
        login,
        role,
        office,
        uscc,
        agency,
        duties,
    };
    vec![
        u("admin", Role::Admin, None, None, None, &[]),
        u(
            "ent-sh",
            Role::Enterprise,
            None,
            Some(ENTERPRISES[0].0),
            None,
            &[],
        ),
        u(
            "ent-sz",
            Role::Enterprise,
            None,
            Some(ENTERPRISES[1].0),
            None,
            &[],
        ),
        u(
            "ent-bj",
            Role::Enterprise,
            None,
            Some(ENTERPRISES[2].0),
            None,
            &[],
        ),
        u(
            "ent-sh2",
            Role::Enterprise,
            None,
            Some(ENTERPRISES[3].0),
            None,
            &[],
        ),
        u(
            "broker-sh",
            Role::Enterprise,
            None,
            Some(BROKER.0),
            None,
            &[],
        ),
        u(
            "sh-chief",
            Role::Officer,
            Some("2200"),
            None,
            None,
            ALL_DUTIES,
        ),
        u(
            "pd-officer",
            Role::Officer,
            Some("2233"),
            None,
            None,
            OFFICE_DUTIES,
        ),
        u(
            "pd-jisi",
            Role::AntiSmuggling,
            Some("2233"),
            None,
            None,
            &[Duty::AntiSmuggling],
        ),
        u(
            "sz-officer",
            Role::Officer,
            Some("5304"),
            None,
            None,
            OFFICE_DUTIES,
        ),
        u(
            "hq-analyst",
            Role::Hq,
            None,
            None,
            None,
            &[Duty::RiskAnalyst, Duty::Statistician],
        ),
        u("mofcom", Role::Agency, None, None, Some("commerce"), &[]),
        u("ndrc", Role::Agency, None, None, Some("ndrc"), &[]),
        u(
            "samr",
            Role::Agency,
            None,
            None,
            Some("market_regulation"),
            &[],
        ),
        u("sat", Role::Agency, None, None, Some("tax"), &[]),
        u("safe", Role::Agency, None, None, Some("forex"), &[]),
        u("bank-boc", Role::Bank, None, None, None, &[]),
        u(
            "carrier",
            Role::Carrier,
            None,
            Some(cargo::CARRIER_USCC),
            None,
            &[],
        ),
        u(
            "post-sh",
            Role::PostalOperator,
            None,
            Some(cargo::POSTAL_USCC),
            None,
            &[],
        ),
    ]
}

/// The registry the demo's lanes come from: AEO green, discredited red, a general-class
/// enterprise with recent discrepancies yellow.
pub fn registry() -> StaticRegistry {
    let mut m = HashMap::new();
    for (uscc, _, class, discrepancies) in ENTERPRISES {
        m.insert(
            Uscc::parse(uscc).expect("demo USCCs are valid"),
            EnterpriseFacts {
                credit_class: class,
                discrepancies_last_year: discrepancies,
            },
        );
    }
    StaticRegistry(m)
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DemoSummary {
    pub users: usize,
    pub declarations: usize,
    pub by_status: Vec<(Status, usize)>,
}

fn principal(svc: &Clearance, login: &str) -> Result<Principal, AppError> {
    Ok(svc.users().login(login, DEMO_PASSWORD)?.principal)
}

/// The `i`-th demo declaration: (filer's login, client sequence number, JSON).
pub fn declaration(i: usize) -> (&'static str, String, String) {
    let seq = format!("demo-{i:05}");
    let mut v: serde_json::Value;
    let login = match i % 10 {
        4 | 5 => {
            v = serde_json::from_str(EXPORT_TEMPLATE).expect("template parses");
            "ent-sz"
        }
        6 => {
            v = serde_json::from_str(IMPORT_TEMPLATE).expect("template parses");
            set_trader(&mut v, ENTERPRISES[2].0);
            "ent-bj"
        }
        7 => {
            v = serde_json::from_str(IMPORT_TEMPLATE).expect("template parses");
            set_trader(&mut v, ENTERPRISES[3].0);
            "ent-sh2"
        }
        _ => {
            v = serde_json::from_str(IMPORT_TEMPLATE).expect("template parses");
            "ent-sh"
        }
    };
    v["contract_no"] = format!("DEMO-{i:05}").into();
    if cargo::is_import(i) {
        v["bill_no"] = cargo::bill_no(i).into();
    } else {
        v["bill_no"] = cargo::export_bill_no(i).into();
    }
    let qty = 10 + (i * 7) % 190;
    let item = &mut v["items"][0];
    let price: f64 = item["unit_price"]
        .as_str()
        .unwrap_or("1")
        .parse()
        .unwrap_or(1.0);
    // Keep total = quantity × unit price, as validation requires.
    let price_cents = (price * 100.0).round() as u64;
    for f in ["declared_quantity", "first_quantity"] {
        item[f] = qty.to_string().into();
    }
    if item.get("second_quantity").is_some() {
        item["second_quantity"] = (qty * 3 / 2).to_string().into();
    }
    let total = price_cents * qty as u64;
    item["total_price"] = format!("{}.{:02}", total / 100, total % 100).into();
    if i % 10 == 8 {
        // Fails automatic review: a commodity code not in the tariff.
        item["commodity_code"] = "0101999999".into();
    }
    (login, seq, v.to_string())
}

fn set_trader(v: &mut serde_json::Value, uscc: &str) {
    v["trader"]["uscc"] = uscc.into();
    v["owner"]["uscc"] = uscc.into();
}

/// Load the demo into the service's store: offices, users, `count` declarations moved along
/// their lifecycle. Safe to run twice: users that exist are kept, filings replay.
pub fn load(svc: &Clearance, count: usize) -> Result<DemoSummary, AppError> {
    load_on(svc, count, &mut Timeline::instant())
}

/// [`load`], with `clock` (the service's clock) pinned to the past while the demo is made: the
/// declarations are filed over six hours ending about six hours ago, each step after a wait
/// typical of it (inspection about an hour, payment a quarter of an hour, ...), the last one
/// before now. The clock follows the system clock again when this returns.
pub fn load_over_past_hours(
    svc: &Clearance,
    count: usize,
    clock: &PinnableClock,
) -> Result<DemoSummary, AppError> {
    // The clock is not pinned yet: this is the real time the demo ends before.
    let now = clock.now();
    let mut timeline = Timeline {
        clock: Some(clock),
        start: now - Duration::hours(12),
        gap: Duration::hours(6) / i32::try_from(count.max(1)).unwrap_or(i32::MAX),
        at: now - Duration::hours(12),
        end: now - Duration::minutes(20),
    };
    timeline.pin();
    load_on(svc, count, &mut timeline)
}

/// When each demo step happens. Per declaration the waits add up to at most 310 minutes, so
/// with filings spread over six hours from twelve hours ago every step is in the past.
struct Timeline<'a> {
    clock: Option<&'a PinnableClock>,
    start: DateTime<Utc>,
    gap: Duration,
    at: DateTime<Utc>,
    /// Where the work after the declarations (refund claims, bank records) happens.
    end: DateTime<Utc>,
}

impl Timeline<'_> {
    fn instant() -> Timeline<'static> {
        let t = DateTime::<Utc>::MIN_UTC;
        Timeline {
            clock: None,
            start: t,
            gap: Duration::zero(),
            at: t,
            end: t,
        }
    }

    fn pin(&self) {
        if let Some(c) = self.clock {
            c.pin(self.at);
        }
    }

    /// The filing of the `i`-th declaration.
    fn file(&mut self, i: usize) {
        self.at = self.start + self.gap * i32::try_from(i).unwrap_or(i32::MAX);
        self.pin();
    }

    /// Wait between `lo` and `hi` minutes (the same for the same `i` and step).
    fn wait(&mut self, i: usize, lo: i64, hi: i64) {
        let spread = (hi - lo + 1).max(1) as usize;
        let minutes = lo + ((i * 37 + (lo as usize) * 11) % spread) as i64;
        self.at += Duration::minutes(minutes);
        self.pin();
    }

    fn finish(&mut self) {
        self.at = self.end;
        self.pin();
    }
}

impl Drop for Timeline<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.clock {
            c.release();
        }
    }
}

fn load_on(svc: &Clearance, count: usize, tl: &mut Timeline<'_>) -> Result<DemoSummary, AppError> {
    let system = clearance::Actor::System {
        component: "demo".into(),
    };
    for o in svc.refdata().offices() {
        svc.store().put_office(
            Office {
                code: o.code,
                name: o.name_zh.clone(),
                parent: o.parent,
            },
            &system,
            svc.now(),
        )?;
    }
    let users = users();
    for u in &users {
        let req = NewUserRequest {
            login: u.login.into(),
            password: DEMO_PASSWORD.into(),
            role: u.role,
            duties: u.duties.to_vec(),
            office: u
                .office
                .map(|o| OfficeCode::parse(o).expect("demo offices are valid")),
            uscc: u
                .uscc
                .map(|x| Uscc::parse(x).expect("demo USCCs are valid")),
            agency: u.agency.map(str::to_owned),
        };
        match svc.users().bootstrap_user(req) {
            Ok(_) => {}
            Err(AppError::Conflict {
                code: "duplicate", ..
            }) => {}
            Err(e) => return Err(e),
        }
    }
    // Rules, credit classes, the watch list and the sampling seed, before any filing.
    self::risk::load(svc)?;
    // The E-Port registry and a licence, when the ledgers are on.
    self::eport::load(svc)?;
    // A customs broker that registered itself and waits for review (docs/PARTIES.md).
    self::eport::register_applicant(svc)?;
    // Declarations only into an empty ledger: their steps are not idempotent.
    let any = svc.store().list(
        &store::ListFilter::default(),
        &store::PageRequest {
            after: None,
            limit: 1,
        },
    )?;
    if !any.items.is_empty() {
        return Ok(DemoSummary {
            users: users.len(),
            declarations: 0,
            by_status: Vec::new(),
        });
    }
    let mut who: HashMap<&str, Principal> = HashMap::new();
    for u in &users {
        who.insert(u.login, principal(svc, u.login)?);
    }
    // Manifests (a bill for every demo import), transits, parcels: with cargo control only.
    self::cargo::load(svc, &who, count)?;
    // The bank registers the general guarantee the releases against a guarantee draw on.
    register_guarantee(svc, &who["bank-boc"])?;
    let officer = |office: &str| {
        if office == "5304" {
            &who["sz-officer"]
        } else {
            &who["pd-officer"]
        }
    };

    let mut by_status: HashMap<Status, usize> = HashMap::new();
    for i in 0..count {
        let (login, seq, json) = declaration(i);
        let filer = &who[login];
        tl.file(i);
        let filing = match svc.filing().submit(filer, &seq, json.as_bytes()) {
            Ok(f) => f,
            Err(AppError::Rejected { .. }) => {
                *by_status.entry(Status::Rejected).or_default() += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        let key = DeclarationKey::Id(filing.id);
        let office = if i % 10 == 4 || i % 10 == 5 {
            "5304"
        } else {
            "2233"
        };
        let off = officer(office);
        let stage = (i / 10) % 5;
        let mut status = filing.status;
        let notices = |svc: &Clearance| -> Result<Vec<String>, AppError> {
            Ok(svc
                .steps()
                .get(filer, key)?
                .notices
                .iter()
                .filter(|n| n.paid_at.is_none())
                .map(|n| n.notice_no.clone())
                .collect())
        };
        // Officer examination for red and yellow lanes.
        if status == Status::Inspection && stage >= 1 {
            let result = if stage == 4 {
                ExaminationResult::Discrepancy {
                    findings: vec![Finding {
                        kind: FindingKind::Quantity,
                        field: "items[0].declared_quantity".into(),
                        note: "多出2台 2 units more than declared".into(),
                    }],
                }
            } else {
                ExaminationResult::Conform
            };
            tl.wait(i, 40, 100);
            status = svc
                .steps()
                .step(off, key, Step::RecordInspection { result })?
                .status;
        }
        if status == Status::DocumentReview {
            if stage == 0 {
                tl.wait(i, 20, 60);
                status = svc
                    .steps()
                    .step(
                        filer,
                        key,
                        Step::RequestAmendment {
                            reason: "单价录入错误 unit price keyed wrongly".into(),
                            // With the total that goes with it (quantity as `declaration` set
                            // it): a request is validated in full when asked for.
                            changes: vec![
                                FieldChange {
                                    field: "items[0].unit_price".into(),
                                    value: "349.0000".into(),
                                },
                                FieldChange {
                                    field: "items[0].total_price".into(),
                                    value: format!("{}.00", 349 * (10 + (i * 7) % 190)),
                                },
                            ],
                        },
                    )?
                    .status;
                continue_count(&mut by_status, status);
                continue;
            }
            tl.wait(i, 15, 45);
            status = svc
                .steps()
                .step(
                    off,
                    key,
                    Step::RecordReview {
                        result: ExaminationResult::Conform,
                    },
                )?
                .status;
        }
        if status == Status::AwaitingAssessment && stage >= 2 {
            tl.wait(i, 5, 15);
            status = svc.steps().step(off, key, Step::Assess)?.status;
        }
        if i % 10 == 9 && status == Status::Assessed {
            tl.wait(i, 30, 60);
            status = if stage % 2 == 0 {
                // A suspension needs an open case: the anti-smuggling officer opens one from
                // the risk hit first.
                let case = svc.cases().open(
                    &who["pd-jisi"],
                    crate::case_desk::OpenCase {
                        office: "2233".into(),
                        origin: store::cases::CaseOrigin::RiskHit,
                        origin_ref: seq.clone(),
                        summary: "涉嫌低报价格 suspected undervaluation".into(),
                    },
                )?;
                svc.steps()
                    .step(
                        &who["pd-jisi"],
                        key,
                        Step::Suspend {
                            reason: "涉嫌低报价格 suspected undervaluation".into(),
                            case_no: case.case_no,
                        },
                    )?
                    .status
            } else {
                svc.steps()
                    .step(
                        filer,
                        key,
                        Step::RequestCancellation {
                            reason: "合同取消 contract cancelled".into(),
                        },
                    )?
                    .status
            };
            continue_count(&mut by_status, status);
            continue;
        }
        if status == Status::Assessed && stage >= 1 {
            if i % 10 == 3 {
                tl.wait(i, 10, 30);
                status = svc
                    .steps()
                    .step(
                        off,
                        key,
                        Step::ReleaseAgainstGuarantee {
                            guarantee_no: DEMO_GUARANTEE.into(),
                        },
                    )?
                    .status;
            } else {
                // Paid through the demo's bank: the declarant initiates, `bank-boc` confirms
                // the amount due (tax plus any surcharge) with its own reference.
                for n in notices(svc)? {
                    tl.wait(i, 5, 20);
                    let reference = format!("BOC-{n}");
                    svc.payments()
                        .initiate_and_confirm(filer, &who["bank-boc"], &n, &reference)?;
                    status = svc.steps().get(filer, key)?.state.status;
                }
            }
        }
        if status == Status::Paid && stage >= 2 {
            tl.wait(i, 2, 10);
            status = svc.steps().step(off, key, Step::Release)?.status;
        }
        if status == Status::Released && stage >= 3 {
            tl.wait(i, 20, 60);
            status = if office == "5304" {
                // The vessel leaves: its manifest's departure confirms the exit.
                if self::cargo::depart_export(svc, &who, i)? {
                    Status::Closed
                } else {
                    status
                }
            } else if svc.steps().get(filer, key)?.state.outstanding_fen()
                == domain::money::Fen::ZERO
            {
                svc.steps().step(off, key, Step::Close)?.status
            } else {
                status
            };
        }
        continue_count(&mut by_status, status);
    }
    tl.finish();
    // A car import under the demo licence, released: the licence written off in part.
    self::eport::release_licensed_cars(svc, &who)?;
    // Refund claims of closed exports and the bank's receipts and payments.
    self::finance::load(svc, &who)?;
    // A broker acting for two consignees, and an open anti-smuggling case.
    load_parties(svc, &who)?;
    // A bulk load: the planner's statistics catch up now rather than at autovacuum's pace.
    svc.store().refresh_statistics()?;
    let mut by_status: Vec<(Status, usize)> = by_status.into_iter().collect();
    by_status.sort();
    Ok(DemoSummary {
        users: users.len(),
        declarations: count,
        by_status,
    })
}

/// The general guarantee 总担保 `bank-boc` issues to `ent-sh` (Shanghai customs and the offices
/// below it, releases and transits, ¥5,000,000, a year from a month ago).
pub const DEMO_GUARANTEE: &str = "BOC-ZDB-2025-0001";

fn register_guarantee(svc: &Clearance, bank: &Principal) -> Result<(), AppError> {
    let today = domain::time::china_date(svc.now());
    let req = crate::guarantee_desk::GuaranteeRequest {
        id: DEMO_GUARANTEE.into(),
        kind: tax::guarantee::GuaranteeKind::General,
        holder: Uscc::parse(ENTERPRISES[0].0).expect("demo USCCs are valid"),
        amount_fen: domain::money::Fen::yuan(5_000_000),
        valid_from: today - chrono::Duration::days(30),
        valid_to: today + chrono::Duration::days(335),
        offices: vec![OfficeCode::parse("2200").expect("demo offices are valid")],
        purposes: vec![
            tax::guarantee::Purpose::Release,
            tax::guarantee::Purpose::Transit,
        ],
    };
    match svc.guarantees().register(bank, req) {
        Ok(_) => Ok(()),
        Err(AppError::Conflict {
            code: "guarantee_already_registered",
            ..
        }) => Ok(()),
        // A store without the ledger: the releases against a guarantee are refused.
        Err(AppError::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

fn continue_count(m: &mut HashMap<Status, usize>, s: Status) {
    *m.entry(s).or_default() += 1;
}

/// Powers of attorney from `ent-sh` and `ent-sh2` to the demo broker, a filing by the broker in
/// each one's name, and an open anti-smuggling case with a seizure (docs/PARTIES.md).
fn load_parties(svc: &Clearance, who: &HashMap<&str, Principal>) -> Result<(), AppError> {
    if svc.store().parties_store().is_none() {
        return Ok(());
    }
    let today = domain::time::china_date(svc.now());
    for (k, (login, consignee)) in [("ent-sh", ENTERPRISES[0].0), ("ent-sh2", ENTERPRISES[3].0)]
        .into_iter()
        .enumerate()
    {
        svc.attorney().grant(
            &who[login],
            crate::attorney::GrantRequest {
                broker: BROKER.0.into(),
                trade_modes: vec!["0110".into()],
                offices: vec!["2200".into()],
                valid_from: (today - Duration::days(10)).to_string(),
                valid_to: (today + Duration::days(180)).to_string(),
                max_declarations: Some(100),
                max_value_fen: None,
            },
        )?;
        let (_, _, json) = declaration(k);
        let mut v: serde_json::Value =
            serde_json::from_str(&json).map_err(|e| AppError::Internal(e.to_string()))?;
        set_trader(&mut v, consignee);
        v["contract_no"] = format!("BROKER-{k:03}").into();
        match svc.filing().submit(
            &who["broker-sh"],
            &format!("broker-{k:03}"),
            v.to_string().as_bytes(),
        ) {
            Ok(_) | Err(AppError::Rejected { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let case = svc.cases().open(
        &who["pd-jisi"],
        crate::case_desk::OpenCase {
            office: "2233".into(),
            origin: store::cases::CaseOrigin::Intelligence,
            origin_ref: "线索 tip 2025-117".into(),
            summary: "疑似夹藏走私 suspected concealment in electronics imports".into(),
        },
    )?;
    let case = svc.cases().step(
        &who["pd-jisi"],
        case.id,
        crate::case_desk::CaseStepRequest {
            expected_version: Some(case.version),
            step: store::cases::CaseStep::Link {
                kind: store::cases::LinkKind::Enterprise,
                reference: ENTERPRISES[3].0.into(),
                note: "consignee".into(),
            },
        },
    )?;
    svc.cases().step(
        &who["pd-jisi"],
        case.id,
        crate::case_desk::CaseStepRequest {
            expected_version: Some(case.version),
            step: store::cases::CaseStep::Seize {
                goods: "未申报电子元件 undeclared electronic components".into(),
                quantity: rust_decimal::Decimal::new(240, 0),
                unit: "件".into(),
                place: "洋山港区 Yangshan terminal".into(),
                custody: "海关监管仓库 customs bonded warehouse 3".into(),
            },
        },
    )?;
    load_aeo(svc, who)
}

/// An AEO application in audit (docs/PARTIES.md "AEO certification"): `ent-sh2` applies for
/// advanced certification at 2233, where `pd-officer` has scored four standards of the
/// checklist, one with a finding.
fn load_aeo(svc: &Clearance, who: &HashMap<&str, Principal>) -> Result<(), AppError> {
    use store::aeo::{AeoStep, ItemResult, Level};
    let applied = svc.aeo().apply(
        &who["ent-sh2"],
        crate::aeo_desk::ApplyRequest {
            level: Level::Advanced,
            office: Some("2233".into()),
        },
    )?;
    let id = applied.certification.id;
    let mut version = applied.certification.version;
    for (standard, result, finding) in [
        ("IC-1", ItemResult::Meets, ""),
        ("IC-2", ItemResult::Meets, ""),
        (
            "FS-1",
            ItemResult::BasicallyMeets,
            "2024 年审计报告附保留意见 the 2024 audit report is qualified",
        ),
        ("LC-3", ItemResult::Meets, ""),
    ] {
        let c = svc.aeo().step(
            &who["pd-officer"],
            id,
            crate::aeo_desk::AeoStepRequest {
                expected_version: Some(version),
                step: AeoStep::Score {
                    standard: standard.into(),
                    result,
                    finding: finding.into(),
                },
            },
        )?;
        version = c.certification.version;
    }
    Ok(())
}
