//! `jinguan serve --demo` makes its declarations over the past hours (`demo::load_over_past_hours`):
//! clearance times are those of a working day, nothing is dated in the future, and the clock
//! follows the system clock again afterwards.

use std::sync::Arc;

use app::stats::StatsQuery;
use app::{Clearance, Clock, PinnableClock, SystemClock};
use chrono::Duration;
use store::Store;
use store_sqlite::{SqliteOptions, SqliteStore};

#[test]
fn the_demo_is_spread_over_the_past_hours() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap());
    let clock = Arc::new(PinnableClock::new());
    let svc = Clearance::new(
        store,
        Arc::new(refdata::RefData::embedded().unwrap()),
        clock.clone(),
    )
    .with_registry(Box::new(app::demo::registry()))
    .with_eport();
    svc.load_risk().unwrap();
    let before = SystemClock.now();
    app::demo::load_over_past_hours(&svc, 60, &clock).unwrap();
    let after = SystemClock.now();
    assert!(
        (clock.now() - after).num_seconds().abs() < 5,
        "the clock is released"
    );

    let hq = svc
        .users()
        .login("hq-analyst", app::demo::DEMO_PASSWORD)
        .unwrap()
        .principal;
    let all_time = StatsQuery {
        office: None,
        from: Some(before - Duration::days(2)),
        to: Some(after),
    };
    let s = svc.stats().summary(&hq, all_time).unwrap();
    assert!(s.clearance.count > 10, "{s:?}");
    let median = s.clearance.median_seconds.unwrap();
    let p90 = s.clearance.p90_seconds.unwrap();
    // Green-lane goods wait for payment and release (minutes); inspected goods an hour more.
    assert!((5 * 60..=2 * 3600).contains(&median), "median {median} s");
    assert!(p90 > median && p90 <= 5 * 3600, "p90 {p90} s");

    // Every filing was made between twelve hours ago and now, none in the future.
    let page = svc
        .store()
        .list(
            &store::ListFilter::default(),
            &store::PageRequest {
                after: None,
                limit: 500,
            },
        )
        .unwrap();
    assert!(page.items.len() >= 60);
    for d in &page.items {
        for e in svc.store().events(d.id).unwrap() {
            let at = e.event.at;
            assert!(at < before, "{:?} at {at} is not in the past", d.id);
            assert!(at > before - Duration::hours(13), "{:?} at {at}", d.id);
        }
    }
}
