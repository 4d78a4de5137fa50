//! `jinguan simulate --url --officer-steps`: a small seeded day driven over HTTP against a server
//! wired as `jinguan serve --demo` runs it (E-Port ledgers, cargo control, demo users), in
//! process on port 0 over a fresh data folder, every accepted filing taken on to release. The
//! report's counts must be what the store holds.

use std::collections::BTreeMap;
use std::sync::Arc;

use app::cargo_desk::{CargoDesk, CargoPolicy};
use app::{Clearance, ListQuery, SystemClock};
use store::PageRequest;
use store_sqlite::{SqliteOptions, SqliteStore};

const DECLARATIONS: u64 = 300;

#[test]
fn a_day_over_http_reports_what_the_store_holds() {
    let dir = tempfile::tempdir().unwrap();
    let refdata = Arc::new(refdata::RefData::embedded().unwrap());
    let store = Arc::new(SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap());
    let desk = Arc::new(CargoDesk::open(store.clone(), CargoPolicy::default()).unwrap());
    let svc = Clearance::new(store, refdata.clone(), Arc::new(SystemClock))
        .with_eport()
        .with_registry(Box::new(app::demo::registry()));
    svc.load_risk().unwrap();
    let svc = Arc::new(svc.with_cargo(desk));
    app::demo::load(&svc, 0).unwrap();

    // The demo data's own filings (the E-Port and cargo demos file a few) are not the day's.
    let (lanes_before, statuses_before) = holdings(&svc);

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let s = svc.clone();
    runtime.spawn(async move { server::serve(listener, s, std::future::pending()).await });

    let mut cfg = sim::Config::new(2025, DECLARATIONS);
    cfg.enterprises = 100;
    cfg.warmup = 1_000;
    cfg.threads = 2;
    let now = chrono::Utc::now();
    let opts = sim::http::HttpOptions {
        url,
        clients: 8,
        rate_per_s: None,
        password: app::demo::DEMO_PASSWORD.into(),
        today: now.date_naive(),
        arrived_at: now - chrono::Duration::hours(1),
        officer_steps: true,
    };
    let (tally, _, notes) = sim::http::run_http(&cfg, &refdata, &opts, &|_| {}).unwrap();

    // The same seed gives the same declarations as the in-memory day.
    let (memory, _, _) = sim::run_pipeline(&cfg, refdata.clone(), &|_| {});
    assert_eq!(tally.declarations_digest, memory.declarations_digest);
    assert_eq!(tally.declarations, DECLARATIONS);
    assert_eq!(tally.accepted + tally.rejected, DECLARATIONS);
    assert_eq!(tally.accepted_invalid, 0, "{notes:?}");
    assert!(tally.accepted > DECLARATIONS * 9 / 10, "{notes:?}");
    assert_eq!(notes.failures, 0);
    assert!(notes.manifests > 0 && notes.enterprise_users > 0 && notes.rules == 1_000);
    assert_eq!(
        notes.refusals.values().sum::<u64>(),
        tally.rejected,
        "every rejection is a refusal answered by the server"
    );

    let (lanes, statuses) = holdings(&svc);
    let (lanes, statuses) = (
        minus(lanes, &lanes_before),
        minus(statuses, &statuses_before),
    );
    assert_eq!(
        lanes, tally.lanes,
        "lanes in the store vs the report; {statuses:?} {notes:?}"
    );
    let rejected_in_store = statuses.get("rejected").copied().unwrap_or(0);
    let accepted_in_store: u64 = statuses.values().sum::<u64>() - rejected_in_store;
    assert_eq!(accepted_in_store, tally.accepted, "{statuses:?}");
    // Every refusal at filing (validation, licence ledger, cargo control) is recorded.
    assert_eq!(rejected_in_store, tally.rejected, "{statuses:?}");
    // Officers took the filings on to release; the last statuses seen are the store's.
    assert!(notes.officers > 0 && notes.steps > 0, "{notes:?}");
    assert!(
        notes.statuses.get("released").copied().unwrap_or(0) > tally.accepted * 8 / 10,
        "{notes:?}"
    );
    // The one step the server refuses today: assessing a cross-border e-commerce import (it
    // has no buyer and purchase history to apply the e-commerce regime with).
    assert!(
        notes
            .step_refusals
            .keys()
            .all(|k| k == "assess: cannot_assess"),
        "{notes:?}"
    );
    let mut answered = notes.statuses.clone();
    if rejected_in_store > 0 {
        answered.insert("rejected".into(), rejected_in_store);
    }
    assert_eq!(answered, statuses);
}

/// What the store holds, read as the analyst (every office): declarations by lane and by status.
fn holdings(svc: &Clearance) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let hq = svc
        .users()
        .login("hq-analyst", app::demo::DEMO_PASSWORD)
        .unwrap()
        .principal;
    let mut lanes: BTreeMap<String, u64> = BTreeMap::new();
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    let mut after = None;
    loop {
        let page = svc
            .steps()
            .list(
                &hq,
                ListQuery::default(),
                PageRequest {
                    after: after.take(),
                    limit: store::PAGE_MAX,
                },
            )
            .unwrap();
        for d in &page.items {
            *statuses.entry(d.status.as_str().to_owned()).or_default() += 1;
            if let Some(l) = d.lane {
                *lanes.entry(l.as_str().to_owned()).or_default() += 1;
            }
        }
        match page.next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    (lanes, statuses)
}

/// `after - before`, dropping zeros.
fn minus(after: BTreeMap<String, u64>, before: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .into_iter()
        .map(|(k, v)| {
            let b = before.get(&k).copied().unwrap_or(0);
            (k, v - b)
        })
        .filter(|(_, v)| *v > 0)
        .collect()
}
