//! The contract every [`Store`] backend must pass: plain functions over a [`Harness`], and the
//! [`contract_tests!`](crate::contract_tests) macro that turns them into `#[test]`s for one
//! backend. The SQLite backend runs them in `tests/sqlite_contract.rs`; the PostgreSQL backend
//! will run the same ones.
//!
//! The functions panic on a failed check, like assertions in a test.

use std::collections::HashSet;
use std::thread;

use chrono::{DateTime, Duration, TimeZone, Utc};
use clearance::{
    apply, decide, Action, Actor, Command, DeclarationState, Event, Lane, LaneReason,
    PaymentNotice, Status, TaxKind,
};
use domain::codes::{Direction, OfficeCode, Uscc};
use domain::money::Fen;

use store::*;

/// What a backend gives the contract: a way to open its store on the same database again, and
/// raw access to tamper with the audit log as an attacker with database access would.
pub trait Harness {
    /// Open the store. Called again after the previous store was dropped, it must open the
    /// same data (durability across restart).
    fn open(&self) -> Box<dyn Store>;
    /// Change the `detail` of one audit record behind the store's back.
    fn tamper_audit_detail(&self, record_id: i64, detail: &str);
    /// Delete one audit record behind the store's back.
    fn delete_audit_record(&self, record_id: i64);
    /// Every audit record as stored, by id (read behind the store's back).
    fn audit_rows(&self) -> Vec<store::audit::AuditRecord>;
    /// Replace the whole audit log with these rows, behind the store's back: how someone with
    /// write access to the database but not the node's key cuts off or rewrites records.
    fn set_audit_rows(&self, rows: &[store::audit::AuditRecord]);
}

/// The instant the contract runs at (injected time, never the clock).
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 10, 1, 0, 0).unwrap()
}

pub fn shanghai() -> OfficeCode {
    OfficeCode::parse("2200").unwrap()
}

pub fn declarant() -> Uscc {
    Uscc::parse("91110000600037341L").unwrap()
}

pub fn other_declarant() -> Uscc {
    Uscc::parse("91310000132149237G").unwrap()
}

/// A declaration-shaped JSON body of about 1.2 KB, different for each `i`.
pub fn sample_body(i: u64) -> String {
    format!(
        concat!(
            r#"{{"direction":"import","declaration_office":"2200","entry_exit_office":"2201","contract_no":"CT-{i:08}","#,
            r#""ie_date":"2025-03-09","declaration_date":"2025-03-10","#,
            r#""trader":{{"name":"北京示例进出口有限公司","uscc":"91110000600037341L","customs_code":"1105910159"}},"#,
            r#""overseas_party":{{"code":"SG123456789012","name":"Example Trading Pte Ltd","address":"1 Example Road, Singapore"}},"#,
            r#""transport_mode":"2","vessel":"EVER GIVEN","voyage_no":"0{v:03}E","bill_no":"EGLV{i:010}","#,
            r#""trade_mode":"0110","levy_nature":"101","loading_port":"SGSIN","trading_country":"SGP","dispatch_country":"SGP","#,
            r#""domestic_port":"310001","package_type":"22","packages":"{p}","gross_weight_kg":"1250.5","net_weight_kg":"1180.2","#,
            r#""transaction_terms":"3","freight":{{"mark":"3","value":"1200.00","currency":"USD"}},"#,
            r#""entry_type":"M","items":["#,
            r#"{{"item_no":"1","commodity_code":"8471300000","name":"笔记本电脑","specification":"4|3|便携式|Intel i7|16GB","declared_quantity":"100","declared_unit":"001","first_quantity":"100","first_unit":"001","unit_price":"350.0000","total_price":"35000.00","currency":"USD","origin_country":"CHN","destination_country":"CHN","district":"11059","duty_treatment":"1"}},"#,
            r#"{{"item_no":"2","commodity_code":"8504401400","name":"电源适配器","specification":"4|3|65W","declared_quantity":"100","declared_unit":"007","first_quantity":"12.5","first_unit":"035","unit_price":"8.5000","total_price":"850.00","currency":"USD","origin_country":"VNM","destination_country":"CHN","district":"11059","duty_treatment":"1"}}"#,
            r#"]}}"#
        ),
        i = i,
        v = i % 1000,
        p = 10 + i % 90,
    )
}

pub fn submit_request(client_seq_no: &str, body: String) -> SubmitRequest {
    SubmitRequest {
        client_seq_no: client_seq_no.to_owned(),
        declarant: declarant(),
        direction: Direction::Import,
        declaration_office: shanghai(),
        entry_exit_office: OfficeCode::parse("2201").unwrap(),
        body_json: body,
        actor: Actor::Enterprise { uscc: declarant() },
        now: t0(),
        purchase: None,
        goods_value_fen: None,
        agent: None,
    }
}

pub(crate) fn system() -> Actor {
    Actor::System {
        component: "contract".into(),
    }
}

pub(crate) fn officer() -> Actor {
    Actor::Officer {
        login: "wang".into(),
        office: shanghai(),
    }
}

/// Load, decide, append: the use-case loop the clearance service will run.
pub(crate) fn step(
    store: &dyn Store,
    id: DeclarationId,
    actor: Actor,
    action: Action,
    now: DateTime<Utc>,
) -> Appended {
    let d = store
        .load(DeclarationKey::Id(id))
        .unwrap()
        .expect("declaration exists");
    let events = decide(&d.state, &Command { actor, action }, now).expect("command fits");
    store
        .append(AppendRequest {
            id,
            expected_version: d.version,
            events,
        })
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// The contract

/// A submission is stored as given and loads back with its state and history.
pub fn submit_then_load(h: &dyn Harness) {
    let store = h.open();
    let body = sample_body(1);
    let s = store.submit(submit_request("seq-1", body.clone())).unwrap();
    assert!(!s.replayed);
    assert_eq!(s.version, 1);
    assert_eq!(s.pre_entry_no.to_string(), "220020251000000001");

    let d = store.load(DeclarationKey::Id(s.id)).unwrap().unwrap();
    assert_eq!(d.body_json, body);
    assert_eq!(d.version, 1);
    assert_eq!(d.state.status, Status::Submitted);
    assert_eq!(
        d.state.header.as_ref().unwrap().pre_entry_no,
        s.pre_entry_no
    );
    let by_pre = store
        .load(DeclarationKey::PreEntryNo(s.pre_entry_no))
        .unwrap()
        .unwrap();
    assert_eq!(by_pre.id, s.id);

    let events = store.events(s.id).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].seq, 1);
    assert_eq!(events[0].event.kind.name(), "submitted");
    assert_eq!(clearance::replay(events.iter().map(|e| &e.event)), d.state);
    assert!(store
        .load(DeclarationKey::Id(DeclarationId(999_999)))
        .unwrap()
        .is_none());
}

/// The same (enterprise, client sequence number) returns the first result; a different body
/// under the same key is refused; another enterprise may use the same number.
pub fn idempotent_retry_returns_first_result(h: &dyn Harness) {
    let store = h.open();
    let first = store
        .submit(submit_request("retry-7", sample_body(7)))
        .unwrap();
    let again = store
        .submit(submit_request("retry-7", sample_body(7)))
        .unwrap();
    assert!(again.replayed);
    assert_eq!(
        (again.id, again.pre_entry_no),
        (first.id, first.pre_entry_no)
    );

    let err = store
        .submit(submit_request("retry-7", sample_body(8)))
        .unwrap_err();
    assert_eq!(err.code(), "idempotency_mismatch", "{err}");

    let mut other = submit_request("retry-7", sample_body(7));
    other.declarant = other_declarant();
    other.actor = Actor::Enterprise {
        uscc: other_declarant(),
    };
    let theirs = store.submit(other).unwrap();
    assert!(!theirs.replayed);
    assert_ne!(theirs.id, first.id);

    // Retries inside one group-commit batch: many threads send the same key at once.
    let key = "burst-1";
    let results: Vec<Submitted> = thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|_| s.spawn(|| store.submit(submit_request(key, sample_body(11))).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|r| !r.replayed).count(), 1);
    assert!(results
        .iter()
        .all(|r| r.pre_entry_no == results[0].pre_entry_no));

    // And after a restart.
    drop(store);
    let store = h.open();
    let after = store
        .submit(submit_request("retry-7", sample_body(7)))
        .unwrap();
    assert!(after.replayed);
    assert_eq!(after.pre_entry_no, first.pre_entry_no);
    let listed = store
        .list(
            &ListFilter {
                declarant: Some(declarant()),
                ..ListFilter::default()
            },
            &PageRequest {
                after: None,
                limit: 100,
            },
        )
        .unwrap();
    assert_eq!(
        listed.items.len(),
        2,
        "one declaration per key, whatever the retries"
    );
}

/// Declaration numbers are unique per office, year and direction under concurrent accepts, and
/// carry the office, year and flag.
pub fn serials_unique_under_concurrent_accepts(h: &dyn Harness) {
    let store = h.open();
    let n = 40;
    let ids: Vec<DeclarationId> = (0..n)
        .map(|i| {
            let mut r = submit_request(&format!("acc-{i}"), sample_body(i));
            if i % 4 == 0 {
                r.direction = Direction::Export;
            }
            store.submit(r).unwrap().id
        })
        .collect();
    let store_ref: &dyn Store = store.as_ref();
    let numbers: Vec<_> = thread::scope(|s| {
        let handles: Vec<_> = ids
            .chunks(5)
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|id| {
                            store_ref
                                .accept(AcceptRequest {
                                    id: *id,
                                    expected_version: 1,
                                    actor: system(),
                                    now: t0(),
                                })
                                .unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(numbers.len(), n as usize);
    let distinct: HashSet<_> = numbers.iter().map(|a| a.declaration_no).collect();
    assert_eq!(
        distinct.len(),
        numbers.len(),
        "declaration numbers must be unique"
    );
    for direction in [Direction::Import, Direction::Export] {
        let mut serials: Vec<u32> = numbers
            .iter()
            .filter(|a| a.declaration_no.direction() == direction)
            .map(|a| a.declaration_no.serial())
            .collect();
        serials.sort_unstable();
        let expected: Vec<u32> = (1..=serials.len() as u32).collect();
        assert_eq!(
            serials, expected,
            "serials of {direction} are 1..n without gaps"
        );
    }
    for a in &numbers {
        assert_eq!(
            (a.declaration_no.office(), a.declaration_no.year()),
            (shanghai(), 2025)
        );
        assert_eq!(a.version, 2);
    }
    // A refused accept takes no serial.
    let err = store
        .accept(AcceptRequest {
            id: ids[1],
            expected_version: 2,
            actor: system(),
            now: t0(),
        })
        .unwrap_err();
    assert_eq!(err.code(), "not_allowed_in_status", "{err}");
    let fresh = store
        .submit(submit_request("acc-late", sample_body(99)))
        .unwrap();
    let late = store
        .accept(AcceptRequest {
            id: fresh.id,
            expected_version: 1,
            actor: system(),
            now: t0(),
        })
        .unwrap();
    assert_eq!(late.declaration_no.serial(), 31);
    // The year restarts the series.
    let next_year = Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap();
    let mut r = submit_request("acc-2026", sample_body(100));
    r.now = next_year;
    let s = store.submit(r).unwrap();
    assert_eq!(s.pre_entry_no.to_string(), "220020261000000001");
    let a = store
        .accept(AcceptRequest {
            id: s.id,
            expected_version: 1,
            actor: system(),
            now: next_year,
        })
        .unwrap();
    assert_eq!(a.declaration_no.to_string(), "220020261000000001");
}

/// Two writers decide on the same version; the second append is a conflict and changes nothing.
pub fn optimistic_concurrency_conflict(h: &dyn Harness) {
    let store = h.open();
    let s = store.submit(submit_request("occ", sample_body(3))).unwrap();
    store
        .accept(AcceptRequest {
            id: s.id,
            expected_version: 1,
            actor: system(),
            now: t0(),
        })
        .unwrap();
    let d = store.load(DeclarationKey::Id(s.id)).unwrap().unwrap();
    let lane = |l| Command {
        actor: system(),
        action: Action::ChooseLane {
            lane: l,
            reasons: vec![reason()],
            inspection: None,
            explanation: None,
        },
    };
    let a = decide(&d.state, &lane(Lane::Green), t0()).unwrap();
    let b = decide(&d.state, &lane(Lane::Red), t0()).unwrap();
    store
        .append(AppendRequest {
            id: s.id,
            expected_version: d.version,
            events: a,
        })
        .unwrap();
    let err = store
        .append(AppendRequest {
            id: s.id,
            expected_version: d.version,
            events: b,
        })
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                expected: 2,
                actual: 3
            }
        ),
        "{err}"
    );
    let after = store.load(DeclarationKey::Id(s.id)).unwrap().unwrap();
    assert_eq!((after.version, after.state.lane), (3, Some(Lane::Green)));
    assert_eq!(store.events(s.id).unwrap().len(), 3);
    // Stale accept is a conflict too.
    let err = store
        .accept(AcceptRequest {
            id: s.id,
            expected_version: 1,
            actor: system(),
            now: t0(),
        })
        .unwrap_err();
    assert_eq!(err.code(), "version_conflict");
    let err = store
        .append(AppendRequest {
            id: DeclarationId(424_242),
            expected_version: 0,
            events: vec![],
        })
        .unwrap_err();
    assert_eq!(err.code(), "invalid");
}

pub fn reason() -> LaneReason {
    LaneReason {
        code: "default_green".into(),
        message_zh: "默认".into(),
        message_en: "default".into(),
    }
}

/// A bank's payment of a notice within its period: the tax alone, no surcharge.
pub fn pay_on_time(
    bank: &str,
    notice_no: &str,
    amount: Fen,
    reference: &str,
    on: chrono::NaiveDate,
) -> Action {
    Action::Pay {
        notice_no: notice_no.to_owned(),
        payment: clearance::BankPayment {
            bank: bank.to_owned(),
            reference: reference.to_owned(),
            surcharge_fen: Fen::ZERO,
            paid_fen: amount,
            paid_on: on,
            guarantee_claim: None,
        },
    }
}

/// A whole import through the store: notices recorded and paid, narrow columns follow.
pub fn lifecycle_and_payment_notices(h: &dyn Harness) {
    let store = h.open();
    let s = store
        .submit(submit_request("life", sample_body(5)))
        .unwrap();
    let acc = store
        .accept(AcceptRequest {
            id: s.id,
            expected_version: 1,
            actor: system(),
            now: t0(),
        })
        .unwrap();
    let t = |m| t0() + Duration::minutes(m);
    step(
        store.as_ref(),
        s.id,
        system(),
        Action::ChooseLane {
            lane: Lane::Yellow,
            reasons: vec![reason()],
            inspection: None,
            explanation: None,
        },
        t(1),
    );
    step(
        store.as_ref(),
        s.id,
        officer(),
        Action::RecordReview {
            result: clearance::ExaminationResult::Conform,
        },
        t(2),
    );
    let notices = vec![
        PaymentNotice {
            notice_no: format!("{}A", acc.declaration_no),
            tax: TaxKind::Duty,
            amount_fen: Fen(2_000_000),
        },
        PaymentNotice {
            notice_no: format!("{}L", acc.declaration_no),
            tax: TaxKind::Vat,
            amount_fen: Fen(3_364_706),
        },
    ];
    let a = step(
        store.as_ref(),
        s.id,
        system(),
        Action::Assess {
            notices: notices.clone(),
        },
        t(3),
    );
    assert_eq!(a.status, Status::Assessed);
    let stored = store.payment_notices(s.id).unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored
        .iter()
        .all(|n| n.paid_at.is_none() && n.issued_at == t(3)));
    let bank = Actor::Bank {
        code: "ICBC".into(),
    };
    let pay = |n: &PaymentNotice, reference: &str| {
        pay_on_time(
            "ICBC",
            &n.notice_no,
            n.amount_fen,
            reference,
            t0().date_naive(),
        )
    };
    step(
        store.as_ref(),
        s.id,
        bank.clone(),
        pay(&notices[0], "ICBC-1"),
        t(4),
    );
    let paid = step(store.as_ref(), s.id, bank, pay(&notices[1], "ICBC-2"), t(5));
    assert_eq!(paid.status, Status::Paid);
    let stored = store.payment_notices(s.id).unwrap();
    assert!(stored.iter().all(|n| n.paid_at.is_some()));
    // The notice keeps the bank's confirmation that paid it.
    let p = stored[0].payment.as_ref().expect("the payment is stored");
    assert_eq!((p.bank.as_str(), p.reference.as_str()), ("ICBC", "ICBC-1"));
    step(store.as_ref(), s.id, officer(), Action::Release, t(6));
    let closed = step(store.as_ref(), s.id, officer(), Action::Close, t(7));
    assert_eq!((closed.status, closed.version), (Status::Closed, 9));

    let d = store
        .load(DeclarationKey::DeclarationNo(acc.declaration_no))
        .unwrap()
        .unwrap();
    assert_eq!(d.id, s.id);
    assert_eq!(d.updated_at, t(7));
    let history = store.events(s.id).unwrap();
    assert_eq!(
        history.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=9).collect::<Vec<_>>()
    );
    assert_eq!(clearance::replay(history.iter().map(|e| &e.event)), d.state);

    // A notice number used twice is refused and changes nothing.
    let s2 = store
        .submit(submit_request("life-2", sample_body(6)))
        .unwrap();
    store
        .accept(AcceptRequest {
            id: s2.id,
            expected_version: 1,
            actor: system(),
            now: t0(),
        })
        .unwrap();
    step(
        store.as_ref(),
        s2.id,
        system(),
        Action::ChooseLane {
            lane: Lane::Green,
            reasons: vec![reason()],
            inspection: None,
            explanation: None,
        },
        t(1),
    );
    let d2 = store.load(DeclarationKey::Id(s2.id)).unwrap().unwrap();
    let events = decide(
        &d2.state,
        &Command {
            actor: system(),
            action: Action::Assess {
                notices: notices[..1].to_vec(),
            },
        },
        t(2),
    )
    .unwrap();
    let err = store
        .append(AppendRequest {
            id: s2.id,
            expected_version: d2.version,
            events,
        })
        .unwrap_err();
    assert_eq!(err.code(), "duplicate", "{err}");
    assert_eq!(
        store
            .load(DeclarationKey::Id(s2.id))
            .unwrap()
            .unwrap()
            .version,
        d2.version
    );
}

/// Filters combine; pages are bounded, newest first, and the cursor walks them all once.
pub fn list_filters_and_pagination(h: &dyn Harness) {
    let store = h.open();
    let mut ids = Vec::new();
    for i in 0..25u64 {
        let mut r = submit_request(&format!("list-{i}"), sample_body(i));
        r.now = t0() + Duration::hours(i as i64);
        if i % 5 == 0 {
            r.declarant = other_declarant();
            r.actor = Actor::Enterprise {
                uscc: other_declarant(),
            };
        }
        if i % 2 == 0 {
            r.declaration_office = OfficeCode::parse("5300").unwrap();
        }
        ids.push(store.submit(r).unwrap().id);
    }
    for id in ids.iter().take(6) {
        let d = store.load(DeclarationKey::Id(*id)).unwrap().unwrap();
        store
            .accept(AcceptRequest {
                id: *id,
                expected_version: d.version,
                actor: system(),
                now: d.state.submitted_at.unwrap(),
            })
            .unwrap();
    }
    step(
        store.as_ref(),
        ids[0],
        system(),
        Action::ChooseLane {
            lane: Lane::Red,
            reasons: vec![reason()],
            inspection: None,
            explanation: None,
        },
        t0(),
    );

    let all = |f: ListFilter, limit| {
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let p = store.list(&f, &PageRequest { after, limit }).unwrap();
            assert!(p.items.len() <= limit as usize);
            seen.extend(p.items.iter().map(|s| s.id));
            match p.next {
                Some(c) => after = Some(Cursor::parse(c.as_str())),
                None => return seen,
            }
        }
    };
    let every = all(ListFilter::default(), 7);
    let mut expected = ids.clone();
    expected.reverse();
    assert_eq!(every, expected, "newest first, each once");

    assert_eq!(
        all(
            ListFilter {
                status: Some(Status::Accepted),
                ..Default::default()
            },
            2
        )
        .len(),
        5
    );
    assert_eq!(
        all(
            ListFilter {
                status: Some(Status::Submitted),
                ..Default::default()
            },
            50
        )
        .len(),
        19
    );
    assert_eq!(
        all(
            ListFilter {
                lane: Some(Lane::Red),
                ..Default::default()
            },
            50
        ),
        vec![ids[0]]
    );
    assert_eq!(
        all(
            ListFilter {
                declarant: Some(other_declarant()),
                ..Default::default()
            },
            2
        )
        .len(),
        5
    );
    let office = OfficeCode::parse("5300").unwrap();
    assert_eq!(
        all(
            ListFilter {
                declaration_office: Some(office),
                ..Default::default()
            },
            4
        )
        .len(),
        13
    );
    let both = ListFilter {
        declaration_office: Some(office),
        declarant: Some(other_declarant()),
        ..Default::default()
    };
    assert_eq!(all(both, 50).len(), 3); // i = 0, 10, 20
    let window = ListFilter {
        submitted_from: Some(t0() + Duration::hours(10)),
        submitted_to: Some(t0() + Duration::hours(15)),
        ..Default::default()
    };
    assert_eq!(
        all(window, 50),
        (10..15).rev().map(|i| ids[i]).collect::<Vec<_>>()
    );

    let summary = &store
        .list(
            &ListFilter {
                lane: Some(Lane::Red),
                ..Default::default()
            },
            &PageRequest {
                after: None,
                limit: 1,
            },
        )
        .unwrap()
        .items[0];
    assert_eq!(
        (summary.status, summary.lane, summary.version),
        (Status::Inspection, Some(Lane::Red), 3)
    );
    assert!(summary.declaration_no.is_some());

    for limit in [0, PAGE_MAX + 1] {
        let err = store
            .list(&ListFilter::default(), &PageRequest { after: None, limit })
            .unwrap_err();
        assert_eq!(err.code(), "invalid");
    }
    let err = store
        .list(
            &ListFilter::default(),
            &PageRequest {
                after: Some(Cursor::parse("nonsense")),
                limit: 5,
            },
        )
        .unwrap_err();
    assert_eq!(err.code(), "invalid");
}

/// The audit chain covers every change and verifies; a tampered record is reported at that
/// record, a deleted one at the gap it leaves.
pub fn audit_chain_verifies_and_tampering_is_found(h: &dyn Harness) {
    let store = h.open();
    let empty = store.verify_audit().unwrap();
    assert_eq!(
        (empty.records_checked, empty.first_broken.clone()),
        (0, None)
    );

    let s = store
        .submit(submit_request("audit-1", sample_body(1)))
        .unwrap(); // record 1
    store
        .accept(AcceptRequest {
            id: s.id,
            expected_version: 1,
            actor: system(),
            now: t0(),
        })
        .unwrap(); // 2
    store
        .submit(submit_request("audit-2", sample_body(2)))
        .unwrap(); // 3
    store
        .put_office(
            Office {
                code: shanghai(),
                name: "上海海关".into(),
                parent: Some(OfficeCode::HQ),
            },
            &system(),
            t0(),
        )
        .unwrap(); // 4
    let user = NewUser {
        login: "wang".into(),
        role: Role::Officer,
        office: Some(shanghai()),
        uscc: None,
    };
    store.put_user(user.clone(), &system(), t0()).unwrap(); // 5
                                                            // Replays and refusals write nothing.
    store
        .submit(submit_request("audit-1", sample_body(1)))
        .unwrap();
    assert!(store
        .accept(AcceptRequest {
            id: s.id,
            expected_version: 2,
            actor: system(),
            now: t0()
        })
        .is_err());
    assert_eq!(
        store.put_user(user, &system(), t0()).unwrap_err().code(),
        "duplicate"
    );

    let report = store.verify_audit().unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.records_checked, 5);
    drop(store);

    h.tamper_audit_detail(3, r#"{"pre_entry_no":"forged"}"#);
    let store = h.open();
    let report = store.verify_audit().unwrap();
    assert_eq!(
        report.first_broken,
        Some(BrokenLink {
            record_id: 3,
            reason: BrokenReason::HashMismatch
        })
    );
    assert_eq!(report.records_checked, 3);
    drop(store);

    h.delete_audit_record(2);
    let store = h.open();
    let report = store.verify_audit().unwrap();
    assert_eq!(
        report.first_broken,
        Some(BrokenLink {
            record_id: 3,
            reason: BrokenReason::Gap { expected_id: 2 }
        })
    );
}

/// Everything written is there after the store is dropped and opened again, and the audit
/// chain continues where it stopped.
pub fn durable_across_reopen(h: &dyn Harness) {
    let store = h.open();
    let s = store
        .submit(submit_request("dur-1", sample_body(1)))
        .unwrap();
    let a = store
        .accept(AcceptRequest {
            id: s.id,
            expected_version: 1,
            actor: system(),
            now: t0(),
        })
        .unwrap();
    store
        .put_office(
            Office {
                code: shanghai(),
                name: "上海海关".into(),
                parent: None,
            },
            &system(),
            t0(),
        )
        .unwrap();
    let uid = store
        .put_user(
            NewUser {
                login: "li".into(),
                role: Role::Enterprise,
                office: None,
                uscc: Some(declarant()),
            },
            &system(),
            t0(),
        )
        .unwrap();
    let before = store.load(DeclarationKey::Id(s.id)).unwrap().unwrap();
    drop(store);

    let store = h.open();
    let after = store.load(DeclarationKey::Id(s.id)).unwrap().unwrap();
    assert_eq!(after, before);
    assert_eq!(after.state.declaration_no, Some(a.declaration_no));
    let user = store.user_by_login("li").unwrap().unwrap();
    assert_eq!(
        (user.id, user.role, user.uscc),
        (uid, Role::Enterprise, Some(declarant()))
    );
    assert!(store.user_by_login("nobody").unwrap().is_none());
    // Counters continue: the next numbers follow the stored ones.
    let s2 = store
        .submit(submit_request("dur-2", sample_body(2)))
        .unwrap();
    assert_eq!(s2.pre_entry_no.serial(), s.pre_entry_no.serial() + 1);
    let a2 = store
        .accept(AcceptRequest {
            id: s2.id,
            expected_version: 1,
            actor: system(),
            now: t0(),
        })
        .unwrap();
    assert_eq!(a2.declaration_no.serial(), a.declaration_no.serial() + 1);
    let report = store.verify_audit().unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.records_checked, 6);
}

/// The lifecycle's refusals come through the store unchanged and leave no trace.
pub fn refusals_pass_through(h: &dyn Harness) {
    let store = h.open();
    let mut r = submit_request("ref-1", sample_body(1));
    r.actor = Actor::Enterprise {
        uscc: other_declarant(),
    };
    let err = store.submit(r).unwrap_err();
    assert_eq!(err.code(), "not_declarant", "{err}");
    assert!(matches!(err, StoreError::Refused(_)));

    let s = store
        .submit(submit_request("ref-2", sample_body(2)))
        .unwrap();
    assert_eq!(
        s.pre_entry_no.serial(),
        1,
        "the refused submission took no number"
    );
    let d = store.load(DeclarationKey::Id(s.id)).unwrap().unwrap();
    let withdraw = decide(
        &d.state,
        &Command {
            actor: Actor::Enterprise { uscc: declarant() },
            action: Action::Withdraw {
                reason: "mistake".into(),
            },
        },
        t0(),
    )
    .unwrap();
    store
        .append(AppendRequest {
            id: s.id,
            expected_version: 1,
            events: withdraw,
        })
        .unwrap();
    let err = store
        .accept(AcceptRequest {
            id: s.id,
            expected_version: 2,
            actor: system(),
            now: t0(),
        })
        .unwrap_err();
    assert_eq!(err.code(), "not_allowed_in_status");
    // Events decided on another state cannot revive a terminal declaration.
    let as_submitted = apply(
        DeclarationState::default(),
        &store.events(s.id).unwrap()[0].event,
    );
    let problem = clearance::ReviewProblem {
        field: String::new(),
        code: "x".into(),
        message_zh: "x".into(),
        message_en: "x".into(),
    };
    let reject = Command {
        actor: system(),
        action: Action::Reject {
            problems: vec![problem],
        },
    };
    let fake: Vec<Event> = decide(&as_submitted, &reject, t0()).unwrap();
    let err = store
        .append(AppendRequest {
            id: s.id,
            expected_version: 2,
            events: fake,
        })
        .unwrap_err();
    assert_eq!(err.code(), "invalid");
    assert_eq!(store.verify_audit().unwrap().records_checked, 2);
    let big = "x".repeat(BODY_BYTES_MAX + 1);
    assert_eq!(
        store
            .submit(submit_request("ref-3", big))
            .unwrap_err()
            .code(),
        "invalid"
    );
}

// ---------------------------------------------------------------------------------------------
// Filing with automatic review, accounts and sessions

/// Submission and automatic review commit together: a rejection, an accepted green-lane
/// declaration with its notices, a yellow one left for an officer; a retry writes nothing.
pub fn submit_reviewed_records_review_in_one_step(h: &dyn Harness) {
    let store = h.open();
    let audit_before = store.verify_audit().unwrap().records_checked;

    let problem = clearance::ReviewProblem {
        field: "items[0].commodity_code".into(),
        code: "unknown_code".into(),
        message_zh: "商品编号不存在".into(),
        message_en: "unknown commodity code".into(),
    };
    let rejected = store
        .submit_reviewed(
            submit_request("rev-1", sample_body(1)),
            AutomaticReview::Reject {
                problems: vec![problem.clone()],
            },
        )
        .unwrap();
    assert_eq!(rejected.status, Status::Rejected);
    assert_eq!(rejected.declaration_no, None);
    assert_eq!(rejected.version, 2);
    let events = store.events(rejected.id).unwrap();
    assert_eq!(
        events
            .iter()
            .map(|e| e.event.kind.name())
            .collect::<Vec<_>>(),
        ["submitted", "rejected"]
    );

    let green = store
        .submit_reviewed(
            submit_request("rev-2", sample_body(2)),
            AutomaticReview::Accept {
                lane: Lane::Green,
                reasons: vec![reason()],
                assessment: Some(vec![
                    (TaxKind::Duty, Fen(12_345)),
                    (TaxKind::Vat, Fen(67_890)),
                ]),
            },
        )
        .unwrap();
    assert_eq!(green.status, Status::Assessed);
    assert!(!green.replayed);
    let no = green
        .declaration_no
        .expect("accepted declarations are numbered");
    assert_eq!(no.to_string(), "220020251000000001");
    let notices = store.payment_notices(green.id).unwrap();
    assert_eq!(notices.len(), 2);
    assert!(notices
        .iter()
        .any(|n| n.notice_no == notice_no(no, TaxKind::Vat) && n.amount_fen == Fen(67_890)));
    let d = store.load(DeclarationKey::Id(green.id)).unwrap().unwrap();
    assert_eq!(d.version, green.version);
    assert_eq!(d.state.lane, Some(Lane::Green));
    assert_eq!(
        clearance::replay(store.events(green.id).unwrap().iter().map(|e| &e.event)),
        d.state
    );

    let nothing_due = store
        .submit_reviewed(
            submit_request("rev-3", sample_body(3)),
            AutomaticReview::Accept {
                lane: Lane::Blue,
                reasons: vec![reason()],
                assessment: Some(vec![]),
            },
        )
        .unwrap();
    assert_eq!(nothing_due.status, Status::Paid);

    let yellow = store
        .submit_reviewed(
            submit_request("rev-4", sample_body(4)),
            AutomaticReview::Accept {
                lane: Lane::Yellow,
                reasons: vec![reason()],
                assessment: None,
            },
        )
        .unwrap();
    assert_eq!(yellow.status, Status::DocumentReview);
    assert_eq!(
        yellow.declaration_no.unwrap().to_string(),
        "220020251000000003"
    );

    // Two audit records per filing (submission, review).
    let audit_after = store.verify_audit().unwrap();
    assert!(audit_after.is_intact());
    assert_eq!(audit_after.records_checked, audit_before + 8);

    // A retry returns the current state and writes nothing, whatever review it carries.
    let again = store
        .submit_reviewed(
            submit_request("rev-2", sample_body(2)),
            AutomaticReview::Reject {
                problems: vec![problem],
            },
        )
        .unwrap();
    assert!(again.replayed);
    assert_eq!((again.id, again.status), (green.id, Status::Assessed));
    assert_eq!(again.declaration_no, Some(no));
    assert_eq!(
        store.verify_audit().unwrap().records_checked,
        audit_after.records_checked
    );
    let err = store
        .submit_reviewed(
            submit_request("rev-2", sample_body(99)),
            AutomaticReview::Accept {
                lane: Lane::Green,
                reasons: vec![reason()],
                assessment: None,
            },
        )
        .unwrap_err();
    assert_eq!(err.code(), "idempotency_mismatch");

    // A refused review (no reasons for the lane) leaves nothing behind: no row, no serial.
    let err = store
        .submit_reviewed(
            submit_request("rev-5", sample_body(5)),
            AutomaticReview::Accept {
                lane: Lane::Green,
                reasons: vec![],
                assessment: None,
            },
        )
        .unwrap_err();
    assert_eq!(err.code(), "missing");
    let next = store
        .submit_reviewed(
            submit_request("rev-6", sample_body(6)),
            AutomaticReview::Accept {
                lane: Lane::Red,
                reasons: vec![reason()],
                assessment: None,
            },
        )
        .unwrap();
    assert_eq!(next.status, Status::Inspection);
    assert_eq!(next.pre_entry_no.to_string(), "220020251000000005");
    assert_eq!(
        next.declaration_no.unwrap().to_string(),
        "220020251000000004"
    );
}

fn new_account(login: &str, role: Role, duties: Vec<Duty>) -> NewAccount {
    NewAccount {
        user: NewUser {
            login: login.into(),
            role,
            office: Some(shanghai()),
            uscc: None,
        },
        duties,
        agency: None,
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${login}"),
    }
}

/// Accounts keep their duties and password hash; logins are unique.
pub fn accounts_roundtrip(h: &dyn Harness) {
    let store = h.open();
    let admin = Actor::System {
        component: "admin".into(),
    };
    let id = store
        .create_account(
            new_account("li", Role::Officer, vec![Duty::Reviewer, Duty::TaxOfficer]),
            &admin,
            t0(),
        )
        .unwrap();
    let a = store.account_by_login("li").unwrap().unwrap();
    assert_eq!(a.user.id, id);
    assert_eq!(a.user.role, Role::Officer);
    assert_eq!(a.user.office, Some(shanghai()));
    assert_eq!(a.duties, vec![Duty::Reviewer, Duty::TaxOfficer]);
    assert!(a.password_hash.unwrap().ends_with("$li"));
    assert_eq!(store.account_by_id(id).unwrap().unwrap().user.login, "li");
    assert!(store.account_by_login("nobody").unwrap().is_none());
    assert!(store.account_by_id(id + 100).unwrap().is_none());

    let err = store
        .create_account(new_account("li", Role::Admin, vec![]), &admin, t0())
        .unwrap_err();
    assert_eq!(err.code(), "duplicate");

    let mut agency = new_account("mofcom", Role::Agency, vec![]);
    agency.user.office = None;
    agency.agency = Some("commerce".into());
    store.create_account(agency, &admin, t0()).unwrap();
    let a = store.account_by_login("mofcom").unwrap().unwrap();
    assert_eq!(a.agency.as_deref(), Some("commerce"));
    assert!(a.duties.is_empty());

    // A user recorded without sign-in has no hash; the old accessor still sees accounts.
    store
        .put_user(
            NewUser {
                login: "plain".into(),
                role: Role::Enterprise,
                office: None,
                uscc: Some(declarant()),
            },
            &admin,
            t0(),
        )
        .unwrap();
    assert_eq!(
        store
            .account_by_login("plain")
            .unwrap()
            .unwrap()
            .password_hash,
        None
    );
    assert_eq!(store.user_by_login("li").unwrap().unwrap().id, id);
    let report = store.verify_audit().unwrap();
    assert!(report.is_intact());
    assert_eq!(report.records_checked, 3, "the failed insert wrote nothing");
}

/// Sessions: found by token hash with their user, revoked one at a time or all of a user.
pub fn sessions_expire_and_revoke(h: &dyn Harness) {
    let store = h.open();
    let admin = Actor::System {
        component: "admin".into(),
    };
    let uid = store
        .create_account(
            new_account("zhao", Role::Officer, vec![Duty::Inspector]),
            &admin,
            t0(),
        )
        .unwrap();
    let session = |hash: &str| NewSession {
        token_hash: hash.into(),
        user_id: uid,
        created_at: t0(),
        expires_at: t0() + Duration::hours(8),
    };
    store.create_session(session("aa01"), &admin, t0()).unwrap();
    store.create_session(session("aa02"), &admin, t0()).unwrap();
    store.create_session(session("aa03"), &admin, t0()).unwrap();
    assert_eq!(
        store
            .create_session(session("aa01"), &admin, t0())
            .unwrap_err()
            .code(),
        "duplicate"
    );
    let mut orphan = session("aa04");
    orphan.user_id = uid + 1000;
    assert!(store.create_session(orphan, &admin, t0()).is_err());

    let s = store.session_by_token_hash("aa01").unwrap().unwrap();
    assert_eq!(s.account.user.login, "zhao");
    assert_eq!(s.account.duties, vec![Duty::Inspector]);
    assert_eq!(s.expires_at, t0() + Duration::hours(8));
    assert_eq!(s.revoked_at, None);
    assert!(store.session_by_token_hash("ffff").unwrap().is_none());

    let later = t0() + Duration::minutes(5);
    assert!(store.revoke_session("aa01", &admin, later).unwrap());
    assert!(
        !store.revoke_session("aa01", &admin, later).unwrap(),
        "already revoked"
    );
    assert!(!store.revoke_session("ffff", &admin, later).unwrap());
    assert_eq!(
        store
            .session_by_token_hash("aa01")
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(later)
    );
    assert_eq!(store.revoke_sessions_of(uid, &admin, later).unwrap(), 2);
    assert!(store
        .session_by_token_hash("aa03")
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
    assert_eq!(store.revoke_sessions_of(uid, &admin, later).unwrap(), 0);
    assert!(store.verify_audit().unwrap().is_intact());
}

/// The office-scope filter: only the listed offices; an empty list matches nothing.
pub fn list_within_offices(h: &dyn Harness) {
    let store = h.open();
    for (i, office) in ["2200", "2233", "5300", "2200"].iter().enumerate() {
        let mut r = submit_request(&format!("scope-{i}"), sample_body(i as u64));
        r.declaration_office = OfficeCode::parse(office).unwrap();
        store.submit(r).unwrap();
    }
    let page = PageRequest {
        after: None,
        limit: 10,
    };
    let list = |offices: Option<Vec<&str>>| {
        let filter = ListFilter {
            offices: offices.map(|v| v.iter().map(|o| OfficeCode::parse(o).unwrap()).collect()),
            ..ListFilter::default()
        };
        let mut got: Vec<String> = store
            .list(&filter, &page)
            .unwrap()
            .items
            .iter()
            .map(|d| d.declaration_office.to_string())
            .collect();
        got.sort();
        got
    };
    assert_eq!(list(None).len(), 4);
    assert_eq!(list(Some(vec!["2200", "2233"])), ["2200", "2200", "2233"]);
    assert_eq!(list(Some(vec!["5300"])), ["5300"]);
    assert!(list(Some(vec![])).is_empty());
    // Combined with another filter, and paged.
    let filter = ListFilter {
        offices: Some(vec![shanghai(), OfficeCode::parse("2233").unwrap()]),
        status: Some(Status::Submitted),
        ..ListFilter::default()
    };
    let first = store
        .list(
            &filter,
            &PageRequest {
                after: None,
                limit: 2,
            },
        )
        .unwrap();
    assert_eq!(first.items.len(), 2);
    let second = store
        .list(
            &filter,
            &PageRequest {
                after: first.next,
                limit: 2,
            },
        )
        .unwrap();
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.next, None);
}

/// Generate one `#[test]` per contract function for a backend. `$make` is an expression that
/// builds a fresh [`Harness`] (a fresh, empty database) each time it is evaluated.
/// Released and closed declarations are totalled per declarant, direction and filing day in
/// China time, with those that had no value counted apart; others are left out.
pub fn goods_totals_by_day(h: &dyn Harness) {
    let store = h.open();
    let file = |seq: &str, hours: i64, fen: Option<i64>| {
        let mut r = submit_request(seq, sample_body(1_000 + hours as u64));
        r.now = t0() + Duration::hours(hours);
        r.goods_value_fen = fen.map(Fen);
        store
            .submit_reviewed(
                r,
                AutomaticReview::Accept {
                    lane: Lane::Green,
                    reasons: vec![reason()],
                    assessment: Some(vec![]),
                },
            )
            .unwrap()
    };
    let release = |seq: &str, hours: i64, fen: Option<i64>| {
        let f = file(seq, hours, fen);
        assert_eq!(f.status, Status::Paid, "nothing due");
        step(
            store.as_ref(),
            f.id,
            officer(),
            Action::Release,
            t0() + Duration::hours(hours + 1),
        );
    };
    // t0 is 09:00 in China on 2025-03-10; 16 hours later it is 01:00 on the 11th.
    release("g-1", 0, Some(10_000));
    release("g-2", 2, Some(20_000));
    release("g-3", 3, None);
    release("g-4", 16, Some(5_000));
    file("g-5", 4, Some(99_900)); // not released: left out
    let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2025, 3, d).unwrap();
    let all = store
        .goods_totals(t0(), t0() + Duration::days(2), None)
        .unwrap();
    assert_eq!(
        all.iter()
            .map(|g| (
                g.declarant,
                g.direction,
                g.day,
                g.value_fen.0,
                g.declarations,
                g.unvalued
            ))
            .collect::<Vec<_>>(),
        [
            (declarant(), Direction::Import, day(10), 30_000, 3, 1),
            (declarant(), Direction::Import, day(11), 5_000, 1, 0),
        ]
    );
    // The period is half-open on filing time, and a declarant filter applies.
    let later = store
        .goods_totals(t0() + Duration::hours(1), t0() + Duration::hours(16), None)
        .unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!((later[0].value_fen.0, later[0].declarations), (20_000, 2));
    let mine = store
        .goods_totals(t0(), t0() + Duration::days(2), Some(&declarant()))
        .unwrap();
    assert_eq!(mine, all);
    let other = Uscc::parse("91440300MA5FT3XKX8").unwrap();
    assert!(store
        .goods_totals(t0(), t0() + Duration::days(2), Some(&other))
        .unwrap()
        .is_empty());
}

/// E-commerce purchases are kept per buyer with their value and status, found from a date on
/// (through `submit` and `submit_reviewed` alike); other declarations have none.
pub fn purchases_by_buyer(h: &dyn Harness) {
    let store = h.open();
    let purchase = |buyer: &str, fen: i64| {
        Some(store::Purchase {
            buyer: buyer.to_owned(),
            value_fen: Fen(fen),
        })
    };
    let at = |hours: i64, seq: &str, buyer: &str, fen: i64| {
        let mut r = submit_request(seq, sample_body(seq.len() as u64 * 100 + fen as u64));
        r.now = t0() + chrono::Duration::hours(hours);
        r.purchase = purchase(buyer, fen);
        r
    };
    let first = store.submit(at(0, "p-1", "resident_id:A", 10_000)).unwrap();
    let accept = AutomaticReview::Accept {
        lane: Lane::Green,
        reasons: vec![reason()],
        assessment: None,
    };
    let second = store
        .submit_reviewed(at(2, "p-2", "resident_id:A", 25_000), accept)
        .unwrap();
    let rejected = store
        .submit_reviewed(
            at(3, "p-3", "resident_id:A", 5_000),
            AutomaticReview::Reject {
                problems: vec![clearance::ReviewProblem {
                    field: "buyer".into(),
                    code: "required".into(),
                    message_zh: "缺".into(),
                    message_en: "missing".into(),
                }],
            },
        )
        .unwrap();
    store
        .submit(at(1, "p-4", "passport:E1234567", 7_000))
        .unwrap();
    store.submit(submit_request("p-5", sample_body(5))).unwrap();

    let all = store.purchases("resident_id:A", t0()).unwrap();
    assert_eq!(
        all.iter()
            .map(|p| (p.id, p.value_fen.0, p.status))
            .collect::<Vec<_>>(),
        [
            (first.id, 10_000, Status::Submitted),
            (second.id, 25_000, Status::AwaitingAssessment),
            (rejected.id, 5_000, Status::Rejected),
        ]
    );
    assert_eq!(all[1].submitted_at, t0() + chrono::Duration::hours(2));
    let later = store
        .purchases("resident_id:A", t0() + chrono::Duration::hours(1))
        .unwrap();
    assert_eq!(later.len(), 2);
    assert_eq!(store.purchases("passport:E1234567", t0()).unwrap().len(), 1);
    assert!(store.purchases("resident_id:B", t0()).unwrap().is_empty());
}

/// The dashboard's counts: the declarations filed in a half-open period, per office, status,
/// lane and numbered or not, counted in the store; an office scope applies, an empty one counts
/// nothing, too many offices are refused.
pub fn declaration_counts_by_office_status_and_lane(h: &dyn Harness) {
    let store = h.open();
    let request = |seq: &str, office: &str, hours: i64| {
        let mut r = submit_request(
            seq,
            sample_body(2_000 + seq.len() as u64 * 31 + (hours + 10) as u64),
        );
        r.declaration_office = OfficeCode::parse(office).unwrap();
        r.now = t0() + Duration::hours(hours);
        r
    };
    let green = |assessment: Option<Vec<(TaxKind, Fen)>>| AutomaticReview::Accept {
        lane: Lane::Green,
        reasons: vec![reason()],
        assessment,
    };
    let file = |seq: &str, office: &str, hours: i64, review: AutomaticReview| {
        store
            .submit_reviewed(request(seq, office, hours), review)
            .unwrap()
    };
    let released = file("c-1", "2200", 0, green(Some(vec![])));
    assert_eq!(released.status, Status::Paid, "nothing due");
    step(
        store.as_ref(),
        released.id,
        officer(),
        Action::Release,
        t0() + Duration::hours(1),
    );
    file("c-2", "2200", 1, green(Some(vec![])));
    file("c-3", "2200", 2, green(Some(vec![])));
    let rejected = file(
        "c-4",
        "2200",
        3,
        AutomaticReview::Reject {
            problems: vec![clearance::ReviewProblem {
                field: "items".into(),
                code: "required".into(),
                message_zh: "缺".into(),
                message_en: "missing".into(),
            }],
        },
    );
    assert_eq!(rejected.status, Status::Rejected);
    store.submit(request("c-5", "2200", 4)).unwrap();
    let accepted = store.submit(request("c-6", "2233", 5)).unwrap();
    store
        .accept(AcceptRequest {
            id: accepted.id,
            expected_version: 1,
            actor: system(),
            now: t0() + Duration::hours(5),
        })
        .unwrap();
    let waiting = file("c-7", "2233", 6, green(None));
    assert_eq!(waiting.status, Status::AwaitingAssessment);
    file("c-8", "5300", 2, green(Some(vec![])));
    // Outside the period: before it, and at its (excluded) end.
    file("c-9", "2200", -1, green(Some(vec![])));
    file("c-10", "2200", 24, green(Some(vec![])));

    type Key = (String, Status, Option<Lane>, bool, u64);
    let counts = |from: i64, to: i64, offices: Option<Vec<&str>>| -> Vec<Key> {
        let q = CountQuery {
            from: t0() + Duration::hours(from),
            to: t0() + Duration::hours(to),
            offices: offices.map(|v| v.iter().map(|o| OfficeCode::parse(o).unwrap()).collect()),
        };
        let mut rows: Vec<Key> = store
            .declaration_counts(&q)
            .unwrap()
            .into_iter()
            .map(|r| (r.office.to_string(), r.status, r.lane, r.numbered, r.count))
            .collect();
        rows.sort_by(|a, b| {
            (a.0.as_str(), a.1.as_str(), a.2.map(Lane::as_str), a.3).cmp(&(
                b.0.as_str(),
                b.1.as_str(),
                b.2.map(Lane::as_str),
                b.3,
            ))
        });
        rows
    };
    let row = |office: &str, status, lane, numbered, n| -> Key {
        (office.to_owned(), status, lane, numbered, n)
    };
    let g = Some(Lane::Green);
    assert_eq!(
        counts(0, 24, None),
        [
            row("2200", Status::Paid, g, true, 2),
            row("2200", Status::Rejected, None, false, 1),
            row("2200", Status::Released, g, true, 1),
            row("2200", Status::Submitted, None, false, 1),
            row("2233", Status::Accepted, None, true, 1),
            row("2233", Status::AwaitingAssessment, g, true, 1),
            row("5300", Status::Paid, g, true, 1),
        ]
    );
    assert_eq!(
        counts(0, 24, Some(vec!["2233", "5300"])),
        [
            row("2233", Status::Accepted, None, true, 1),
            row("2233", Status::AwaitingAssessment, g, true, 1),
            row("5300", Status::Paid, g, true, 1),
        ]
    );
    // Half-open: filed at +1 h counts, at +5 h does not.
    assert_eq!(
        counts(1, 5, None),
        [
            row("2200", Status::Paid, g, true, 2),
            row("2200", Status::Rejected, None, false, 1),
            row("2200", Status::Submitted, None, false, 1),
            row("5300", Status::Paid, g, true, 1),
        ]
    );
    assert_eq!(
        counts(-1, 25, Some(vec!["2200"]))
            .iter()
            .map(|r| r.4)
            .sum::<u64>(),
        7
    );
    assert!(counts(0, 24, Some(vec![])).is_empty());
    assert!(counts(30, 40, None).is_empty());
    let err = store
        .declaration_counts(&CountQuery {
            from: t0(),
            to: t0() + Duration::days(1),
            offices: Some(vec![shanghai(); OFFICES_MAX + 1]),
        })
        .unwrap_err();
    assert_eq!(err.code(), "invalid", "{err}");
}

/// A keyed SHA-256 standing in for the node's signing key: the store only carries signatures
/// (the real keys, SM2 and Ed25519, are `exchange`'s and tested there).
pub struct TestKey(pub [u8; 32]);

impl store::audit::HeadSigner for TestKey {
    fn key_name(&self) -> String {
        "TEST CUSTOMS contract-1".into()
    }
    fn sign(&self, message: &[u8]) -> Vec<u8> {
        store::audit::chain_hash(&self.0, message).to_vec()
    }
}

impl store::audit::HeadVerifier for TestKey {
    fn verify(&self, key: &str, message: &[u8], signature: &[u8]) -> Result<(), String> {
        use store::audit::HeadSigner;
        if key != self.key_name() {
            return Err(format!("unknown key {key}"));
        }
        (self.sign(message) == signature)
            .then_some(())
            .ok_or_else(|| "bad signature".to_owned())
    }
}

fn anchor_request(unless_at: i64) -> store::audit::AnchorRequest {
    store::audit::AnchorRequest {
        signer: std::sync::Arc::new(TestKey([7; 32])),
        unless_at,
        actor: Actor::System {
            component: "anchor".into(),
        },
        now: t0(),
        tree: std::sync::Arc::new(store::audit_tree::TreeCache::new()),
        publish_to: vec![],
    }
}

fn keyed(heads: Vec<SignedHead>) -> VerifyOptions {
    VerifyOptions {
        heads,
        verifier: Some(std::sync::Arc::new(TestKey([7; 32]))),
    }
}

/// Rewrite one record's detail and recompute every later hash (the anchors' details stay as
/// signed: whoever does this has no key).
fn rewrite_recomputed(rows: &mut [store::audit::AuditRecord], id: i64, detail: &str) {
    let mut prev = store::audit::GENESIS;
    for r in rows.iter_mut() {
        if r.id == id {
            r.detail = detail.into();
        }
        r.prev_hash = prev;
        r.hash = store::audit::chain_hash(
            &prev,
            &store::audit::canonical_bytes(
                r.id, r.at_ms, &r.actor, &r.action, &r.subject, &r.detail,
            ),
        );
        prev = r.hash;
    }
}

/// Anchors (signed chain heads written into the chain, and the head kept outside) make the
/// chain detect what the unkeyed links cannot: the newest records cut off (the last 1, the last
/// 50, all) and a record rewritten with every later hash recomputed.
pub fn audit_anchors_detect_truncation_and_rewrite(h: &dyn Harness) {
    let store = h.open();
    // Nothing to sign yet.
    assert_eq!(store.anchor_audit(anchor_request(0)).unwrap(), None);
    let mut outside = None;
    for i in 0..120u64 {
        store
            .submit(submit_request(&format!("anchor-{i}"), sample_body(i)))
            .unwrap();
        if i % 20 == 19 {
            let last = outside.as_ref().map_or(0, |h: &SignedHead| h.seq);
            outside = store.anchor_audit(anchor_request(last)).unwrap();
        }
    }
    let head = outside.expect("an anchor was written");
    assert_eq!(head.seq, 126, "120 filings and 6 anchor records");
    // Nothing new since: no second anchor.
    assert_eq!(store.anchor_audit(anchor_request(head.seq)).unwrap(), None);
    let report = store.verify_audit_with(&keyed(vec![head.clone()])).unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(
        (
            report.records_checked,
            report.anchors_checked,
            report.anchored_through
        ),
        (126, 6, 126)
    );
    assert!(report.signatures_checked);
    // The chain goes on after an anchor, and the old head still verifies.
    store
        .submit(submit_request("anchor-after", sample_body(500)))
        .unwrap();
    let report = store.verify_audit_with(&keyed(vec![head.clone()])).unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.anchored_through, 126);
    drop(store);

    let rows = h.audit_rows();
    assert_eq!(rows.len(), 127);
    let original: Vec<_> = rows[..126].to_vec();
    // Cut off the last 1, the last 50, every record: seen against the head kept outside.
    for cut in [1usize, 50, 126] {
        h.set_audit_rows(&original[..126 - cut]);
        let store = h.open();
        let report = store.verify_audit_with(&keyed(vec![head.clone()])).unwrap();
        assert_eq!(
            report.first_broken,
            Some(BrokenLink {
                record_id: (126 - cut) as i64 + 1,
                reason: BrokenReason::Truncated {
                    signed_seq: 126,
                    signed_at_ms: to_ms(t0()),
                }
            }),
            "cut {cut}"
        );
        assert!(!report.first_broken.unwrap().reason.describe().is_empty());
    }

    // Rewrite record 50 and recompute every later hash: the next anchor (record 63, over 62)
    // no longer matches, naming the records after the previous anchor (record 42, over 41).
    let mut rewritten = original.clone();
    rewrite_recomputed(&mut rewritten, 50, r#"{"pre_entry_no":"forged"}"#);
    h.set_audit_rows(&rewritten);
    let store = h.open();
    for options in [keyed(vec![head.clone()]), VerifyOptions::default()] {
        let report = store.verify_audit_with(&options).unwrap();
        assert_eq!(
            report.first_broken,
            Some(BrokenLink {
                record_id: 63,
                reason: BrokenReason::AnchorMismatch {
                    from_id: 42,
                    to_id: 62
                }
            })
        );
    }
    drop(store);

    // Rewrite the newest anchor record itself: only the head kept outside can tell.
    let mut rewritten = original.clone();
    let last = rewritten[125].detail.replacen('{', "{ ", 1);
    rewrite_recomputed(&mut rewritten, 126, &last);
    h.set_audit_rows(&rewritten);
    let store = h.open();
    let report = store.verify_audit_with(&keyed(vec![head.clone()])).unwrap();
    assert_eq!(
        report.first_broken.map(|b| b.reason),
        Some(BrokenReason::HeadMismatch {
            from_id: 126,
            signed_seq: 126
        })
    );
    drop(store);

    // Put back as it was: it verifies again, and the writer goes on from the restored head.
    h.set_audit_rows(&original);
    let store = h.open();
    store
        .submit(submit_request("anchor-again", sample_body(501)))
        .unwrap();
    let report = store.verify_audit_with(&keyed(vec![head])).unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.records_checked, 127);
}

/// Heads sign the Merkle root of the records they cover (RFC 9162), computed incrementally
/// from the writer's cached frontier (and rebuilt when the cache is not the store's); every
/// record's inclusion proof checks against a signed head with nothing but the head, the record
/// and the proof; a published head is an outbox row to the agencies named, in the anchor's
/// transaction.
pub fn audit_proofs_and_published_heads(h: &dyn Harness) {
    use store::audit_tree::{check_inclusion, leaf_hash, root, RecordJson, TreeCache};
    let store = h.open();
    let tree = std::sync::Arc::new(TreeCache::new());
    let request = |unless_at: i64, publish: bool| {
        let mut r = anchor_request(unless_at);
        r.tree = tree.clone();
        if publish {
            r.publish_to = vec!["FOREX".into(), "TAX".into()];
        }
        r
    };
    let mut heads: Vec<SignedHead> = Vec::new();
    for i in 0..40u64 {
        store
            .submit(submit_request(&format!("proof-{i}"), sample_body(i)))
            .unwrap();
        if i % 7 == 6 {
            let last = heads.last().map_or(0, |h| h.seq);
            heads.push(store.anchor_audit(request(last, i == 27)).unwrap().unwrap());
        }
    }
    // A cache that is not this store's (another chain's frontier): rebuilt from the records.
    let mut foreign = store::audit_tree::Frontier::new();
    for n in 0..3u8 {
        foreign.push_record(&[n; 32]);
    }
    tree.set(foreign);
    store
        .submit(submit_request("proof-last", sample_body(99)))
        .unwrap();
    let last = heads.last().unwrap().seq;
    heads.push(store.anchor_audit(request(last, false)).unwrap().unwrap());

    let head = heads.last().unwrap().clone();
    let hashes = store.audit_hashes(1, head.seq).unwrap();
    assert_eq!(hashes.len() as i64, head.seq);
    let leaves: Vec<_> = hashes.iter().map(|h| leaf_hash(h)).collect();
    for h in &heads {
        let n = h.seq as usize;
        assert_eq!(
            h.root.as_deref(),
            Some(store::audit::hex(&root(&leaves[..n])).as_str()),
            "the root head {} signs",
            h.seq
        );
    }
    assert_eq!(
        tree.get().size() as i64,
        head.seq,
        "the cache follows the chain"
    );
    let report = store.verify_audit_with(&keyed(heads.clone())).unwrap();
    assert!(report.is_intact(), "{report:?}");

    let key = TestKey([7; 32]);
    for seq in 1..=head.seq {
        let (record, proof) = store.audit_proof(seq, head.seq).unwrap().unwrap();
        assert_eq!(record.id, seq);
        let json = RecordJson::from(&record);
        check_inclusion(&head, &json, &proof, &key).unwrap();
        // Against an earlier head, with that head's tree size.
        let earlier = heads.iter().find(|h| h.seq >= seq).unwrap();
        let (_, p) = store.audit_proof(seq, earlier.seq).unwrap().unwrap();
        check_inclusion(earlier, &json, &p, &key).unwrap();
        // A record altered, or the proof of another tree size: refused.
        let mut altered = json.clone();
        altered.detail.push(' ');
        assert!(check_inclusion(&head, &altered, &proof, &key).is_err());
        if earlier.seq != head.seq {
            assert!(check_inclusion(&head, &json, &p, &key).is_err());
        }
    }
    assert!(store.audit_proof(0, head.seq).unwrap().is_none());
    assert!(store.audit_proof(head.seq + 1, head.seq).unwrap().is_none());
    assert!(store.audit_proof(1, head.seq + 100).unwrap().is_none());

    // The head published at the 4th anchor: one outbox row to FOREX and TAX, the head itself.
    let published = &heads[3];
    let outbox = store.outbox_store().expect("the backend has an outbox");
    for agency in ["FOREX", "TAX"] {
        let rows: Vec<_> = outbox
            .read_for(agency, 0, 100)
            .unwrap()
            .into_iter()
            .filter(|r| r.message.kind == store::audit::AUDIT_HEAD_KIND)
            .collect();
        assert_eq!(rows.len(), 1, "{agency}");
        assert_eq!(rows[0].message.recipients, ["FOREX", "TAX"]);
        let sent: SignedHead = serde_json::from_slice(&rows[0].message.payload).unwrap();
        assert_eq!(&sent, published);
    }
    assert!(outbox.read_for("COMMERCE", 0, 100).unwrap().is_empty());
}

/// A password set ends the other sessions in the same transaction; a reset asks for a change
/// at the next sign-in; a disabled account's sessions end; security events go into the chain.
pub fn account_lifecycle(h: &dyn Harness) {
    let store = h.open();
    let admin = Actor::System {
        component: "admin:root".into(),
    };
    let uid = store
        .create_account(
            new_account("qian", Role::Officer, vec![Duty::Inspector]),
            &admin,
            t0(),
        )
        .unwrap();
    let a = store.account_by_id(uid).unwrap().unwrap();
    assert!(!a.disabled && !a.must_change_password);
    let session = |hash: &str| NewSession {
        token_hash: hash.into(),
        user_id: uid,
        created_at: t0(),
        expires_at: t0() + Duration::hours(8),
    };
    for t in ["bb01", "bb02", "bb03"] {
        store.create_session(session(t), &admin, t0()).unwrap();
    }
    let later = t0() + Duration::minutes(1);
    // The user's own change, keeping the session they changed it from.
    let ended = store
        .set_password(
            PasswordWrite {
                user_id: uid,
                password_hash: "$argon2id$new".into(),
                reset: false,
                keep_session: Some("bb02".into()),
            },
            &admin,
            later,
        )
        .unwrap();
    assert_eq!(ended, 2);
    let revoked = |t: &str| {
        store
            .session_by_token_hash(t)
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    };
    assert!(revoked("bb01") && !revoked("bb02") && revoked("bb03"));
    let a = store.account_by_login("qian").unwrap().unwrap();
    assert_eq!(a.password_hash.as_deref(), Some("$argon2id$new"));
    assert!(!a.must_change_password);

    // An administrator's reset: every session ends, a change is due.
    let ended = store
        .set_password(
            PasswordWrite {
                user_id: uid,
                password_hash: "$argon2id$once".into(),
                reset: true,
                keep_session: None,
            },
            &admin,
            later,
        )
        .unwrap();
    assert_eq!(ended, 1);
    assert!(revoked("bb02"));
    assert!(
        store
            .session_by_token_hash("bb02")
            .unwrap()
            .unwrap()
            .account
            .must_change_password
    );

    // Disable: sessions end at once; enable again.
    store
        .create_session(session("bb04"), &admin, later)
        .unwrap();
    assert_eq!(
        store
            .set_account_enabled(uid, false, &admin, later)
            .unwrap(),
        1
    );
    assert!(revoked("bb04"));
    let a = store.account_by_id(uid).unwrap().unwrap();
    assert!(a.disabled);
    assert!(
        store
            .session_by_token_hash("bb04")
            .unwrap()
            .unwrap()
            .account
            .disabled
    );
    assert_eq!(
        store.set_account_enabled(uid, true, &admin, later).unwrap(),
        0
    );
    assert!(!store.account_by_id(uid).unwrap().unwrap().disabled);

    // Unknown users, and users who cannot sign in, are not found; nothing is written.
    let records = store.verify_audit().unwrap().records_checked;
    assert_eq!(
        store
            .set_account_enabled(uid + 99, false, &admin, later)
            .unwrap_err()
            .code(),
        "not_found"
    );
    let plain = store
        .put_user(
            NewUser {
                login: "no-password".into(),
                role: Role::Officer,
                office: Some(shanghai()),
                uscc: None,
            },
            &admin,
            later,
        )
        .unwrap();
    assert_eq!(
        store
            .set_password(
                PasswordWrite {
                    user_id: plain,
                    password_hash: "x".into(),
                    reset: true,
                    keep_session: None
                },
                &admin,
                later
            )
            .unwrap_err()
            .code(),
        "not_found"
    );
    assert_eq!(store.verify_audit().unwrap().records_checked, records + 1);

    // Security events: known actions with a JSON object only.
    store
        .record_security_event(
            SecurityEvent {
                action: "sign_in_locked".into(),
                subject: "login:qian".into(),
                detail: r#"{"failures":6,"lock_seconds":1}"#.into(),
            },
            &admin,
            later,
        )
        .unwrap();
    for (action, detail) in [
        ("drop_table", "{}"),
        ("sign_in_locked", "[1]"),
        ("sign_in_locked", "x"),
    ] {
        let e = store
            .record_security_event(
                SecurityEvent {
                    action: action.into(),
                    subject: "login:qian".into(),
                    detail: detail.into(),
                },
                &admin,
                later,
            )
            .unwrap_err();
        assert_eq!(e.code(), "invalid", "{action} {detail}");
    }
    drop(store);
    let actions: Vec<String> = h
        .audit_rows()
        .into_iter()
        .filter(|r| r.subject == format!("user:{uid}") || r.subject == "login:qian")
        .map(|r| format!("{} {}", r.action, r.detail))
        .collect();
    assert_eq!(
        actions[4..],
        [
            r#"change_password {"must_change":false,"sessions_ended":2}"#,
            r#"reset_password {"must_change":true,"sessions_ended":1}"#,
            r#"sign_in {"expires_at_ms":1741597200000}"#,
            r#"disable_account {"sessions":1}"#,
            r#"enable_account {"sessions":0}"#,
            r#"sign_in_locked {"failures":6,"lock_seconds":1}"#,
        ],
        "{actions:#?}"
    );
    assert!(h.open().verify_audit().unwrap().is_intact());
}

/// The audit chain names every declaration written, in commit order: a reader that keeps the
/// last record id it read sees each later write, once per call, and nothing else.
pub fn changed_declarations_follow_the_audit_chain(h: &dyn Harness) {
    let store = h.open();
    let start = store.changed_declarations(0, CHANGES_MAX).unwrap();
    assert!(start.ids.is_empty(), "a fresh store has no declarations");
    assert_eq!(start.last, 0);
    let file = |seq: &str, i: u64| {
        let mut r = submit_request(seq, sample_body(2_000 + i));
        r.now = t0() + Duration::minutes(i as i64);
        store
            .submit_reviewed(
                r,
                AutomaticReview::Accept {
                    lane: Lane::Green,
                    reasons: vec![reason()],
                    assessment: Some(vec![]),
                },
            )
            .unwrap()
            .id
    };
    let (a, b, c) = (file("c-1", 1), file("c-2", 2), file("c-3", 3));
    let first = store.changed_declarations(0, CHANGES_MAX).unwrap();
    assert_eq!(
        first.ids,
        [a, b, c],
        "each once, in the order first written"
    );
    assert!(first.last > 0 && first.last <= first.head, "{first:?}");
    // Nothing new: nothing found, the cursor stays.
    let none = store.changed_declarations(first.last, CHANGES_MAX).unwrap();
    assert!(none.ids.is_empty());
    assert_eq!(none.last, first.last);
    // A later write of one declaration names only it.
    step(
        store.as_ref(),
        b,
        officer(),
        Action::Release,
        t0() + Duration::hours(1),
    );
    let later = store.changed_declarations(first.last, CHANGES_MAX).unwrap();
    assert_eq!(later.ids, [b]);
    assert!(later.last > first.last);
    assert_eq!(later.head, later.last, "the release is the newest record");
    // The limit counts records: one record, one declaration, and the next call goes on.
    let one = store.changed_declarations(0, 1).unwrap();
    assert_eq!(one.ids, [a]);
    let next = store.changed_declarations(one.last, CHANGES_MAX).unwrap();
    assert!(next.ids.ends_with(&[b, c]), "{next:?}");
    assert_eq!(
        next.ids.iter().collect::<HashSet<_>>().len(),
        next.ids.len()
    );
    for bad in [0, CHANGES_MAX + 1] {
        let err = store.changed_declarations(0, bad).unwrap_err();
        assert_eq!(err.code(), "invalid", "{err}");
    }
}

/// The notifications inbox's read (issue 20): every audit record naming a declaration, in
/// commit order, each with the versions its events added, so that the events a record wrote
/// are exactly those of `from < seq <= to`; read forwards from a cursor or backwards from the
/// newest.
pub fn declaration_records_follow_the_audit_chain(h: &dyn Harness) {
    use store::activity::{RecordRange, RECORDS_MAX};
    let store = h.open();
    let start = store
        .declaration_records(RecordRange::After(0), 100)
        .unwrap();
    assert!(
        start.records.is_empty(),
        "a fresh store names no declaration"
    );
    let mut r = submit_request("n-1", sample_body(3_001));
    r.now = t0();
    let a = store
        .submit_reviewed(
            r,
            AutomaticReview::Accept {
                lane: Lane::Green,
                reasons: vec![reason()],
                assessment: Some(vec![]),
            },
        )
        .unwrap()
        .id;
    let filed = store
        .declaration_records(RecordRange::After(0), 100)
        .unwrap();
    let of_a: Vec<_> = filed
        .records
        .iter()
        .filter(|x| x.declaration == a)
        .collect();
    assert!(of_a.len() >= 2, "{of_a:?}");
    assert_eq!(of_a[0].action, "submit");
    assert_eq!(of_a[0].versions, Some((0, 1)));
    assert_eq!(of_a[1].action, "automatic_review");
    let version = store.load(DeclarationKey::Id(a)).unwrap().unwrap().version;
    assert_eq!(of_a[1].versions, Some((1, version)));
    assert!(
        filed.records.windows(2).all(|w| w[0].id < w[1].id),
        "oldest first"
    );
    let cursor = filed.next_after(0, 100);
    assert!(cursor >= of_a[1].id && cursor <= filed.head);
    // Nothing new after the cursor.
    let none = store
        .declaration_records(RecordRange::After(cursor), 100)
        .unwrap();
    assert!(none.records.is_empty(), "{none:?}");
    // A step: one record, its versions naming exactly the event it wrote.
    step(
        store.as_ref(),
        a,
        officer(),
        Action::Release,
        t0() + Duration::hours(1),
    );
    let later = store
        .declaration_records(RecordRange::After(cursor), 100)
        .unwrap();
    assert_eq!(later.records.len(), 1, "{later:?}");
    let rec = &later.records[0];
    assert_eq!(
        (rec.declaration, rec.versions),
        (a, Some((version, version + 1)))
    );
    assert_eq!(rec.at, t0() + Duration::hours(1));
    assert!(rec.actor.starts_with("officer:"), "{}", rec.actor);
    let events = store.events(a).unwrap();
    let (from, to) = rec.versions.unwrap();
    let written: Vec<_> = events
        .iter()
        .filter(|e| e.seq > from && e.seq <= to)
        .collect();
    assert_eq!(written.len(), 1);
    assert!(matches!(
        written[0].event.kind,
        clearance::EventKind::Released
    ));
    // Backwards: the newest first record alone, then the ones before it.
    let newest = store
        .declaration_records(RecordRange::Before(i64::MAX), 1)
        .unwrap();
    assert_eq!(newest.records, later.records);
    let before = store
        .declaration_records(RecordRange::Before(rec.id), 2)
        .unwrap();
    assert_eq!(before.records.len(), 2);
    assert!(before.records[0].id < before.records[1].id, "oldest first");
    assert_eq!(before.records[1].id, of_a[of_a.len() - 1].id);
    for bad in [0, RECORDS_MAX + 1] {
        let err = store
            .declaration_records(RecordRange::After(0), bad)
            .unwrap_err();
        assert_eq!(err.code(), "invalid", "{err}");
    }
}

#[macro_export]
macro_rules! contract_tests {
    ($make:expr) => {
        $crate::contract_tests!(@each $make;
            submit_then_load,
            idempotent_retry_returns_first_result,
            serials_unique_under_concurrent_accepts,
            optimistic_concurrency_conflict,
            lifecycle_and_payment_notices,
            list_filters_and_pagination,
            audit_chain_verifies_and_tampering_is_found,
            audit_anchors_detect_truncation_and_rewrite,
            audit_proofs_and_published_heads,
            account_lifecycle,
            durable_across_reopen,
            refusals_pass_through,
            submit_reviewed_records_review_in_one_step,
            accounts_roundtrip,
            sessions_expire_and_revoke,
            list_within_offices,
            purchases_by_buyer,
            goods_totals_by_day,
            declaration_counts_by_office_status_and_lane,
            changed_declarations_follow_the_audit_chain,
            declaration_records_follow_the_audit_chain,
        );
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let harness = $make;
                $crate::contract::$name(&harness);
            }
        )*
    };
}
