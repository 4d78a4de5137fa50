//! The simulated day: reproducible from its seed, valid where it should be, and its planted
//! undervaluation caught by the price check.

use std::sync::Arc;

use sim::{generate, Config, Violation};

fn config(seed: u64, n: u64) -> Config {
    let mut c = Config::new(seed, n);
    c.enterprises = 2_000;
    c.warmup = 8_000;
    c.rules = 300;
    c.threads = 2;
    c
}

fn refdata() -> Arc<refdata::RefData> {
    Arc::new(refdata::RefData::embedded().expect("the shipped tables load"))
}

#[test]
fn same_seed_gives_the_same_declarations_and_decisions() {
    let rd = refdata();
    let (a, _, _) = sim::run_pipeline(&config(42, 2_000), rd.clone(), &|_| {});
    let (b, _, _) = sim::run_pipeline(&config(42, 2_000), rd.clone(), &|_| {});
    assert_eq!(a.declarations, 2_000);
    assert_eq!(a.declarations_digest, b.declarations_digest);
    assert_eq!(a.decisions_digest, b.decisions_digest);
    assert_eq!(a.lanes, b.lanes);
    // One thread or two: the same day.
    let mut one = config(42, 2_000);
    one.threads = 1;
    let (c, _, _) = sim::run_pipeline(&one, rd.clone(), &|_| {});
    assert_eq!(a.declarations_digest, c.declarations_digest);
    assert_eq!(a.decisions_digest, c.decisions_digest);
    // Another seed: another day.
    let (d, _, _) = sim::run_pipeline(&config(43, 2_000), rd, &|_| {});
    assert_ne!(a.declarations_digest, d.declarations_digest);
    assert_ne!(a.decisions_digest, d.decisions_digest);
}

#[test]
fn generated_declarations_validate_unless_made_invalid() {
    let rd = refdata();
    let cfg = config(7, 3_000);
    let world = cfg.world(&rd);
    let mut invalid = 0;
    for i in 0..cfg.declarations {
        let d = generate(&world, &cfg.rates, i, None);
        let r = domain::validate::validate_json(&d.json, &*rd);
        if d.invalid {
            invalid += 1;
            assert!(r.is_err(), "declaration {i} was made invalid but passed");
        } else if let Err(p) = r {
            panic!(
                "declaration {i} should be valid: {:?}",
                p.iter().take(3).collect::<Vec<_>>()
            );
        }
    }
    assert!(
        invalid > 0,
        "the default rates make some declarations invalid"
    );
}

#[test]
fn planted_undervaluation_is_caught_by_the_price_check() {
    let mut cfg = config(11, 4_000);
    cfg.rates.undervaluation_ppm = 100_000;
    let (t, _, _) = sim::run_pipeline(&cfg, refdata(), &|_| {});
    let k = &t.planted[Violation::Undervaluation.as_str()];
    assert!(k.planted >= 300, "planted {}", k.planted);
    let checked = k.planted - k.rejected;
    // Items whose (commodity, origin) has too few warm-up observations cannot be checked;
    // most can.
    assert!(
        k.by_price_check * 10 >= checked * 7,
        "price check caught {} of {checked}",
        k.by_price_check
    );
    assert!(k.intervened >= k.by_price_check);
    assert_eq!(t.rejected_unexpected, 0);
}
