//! The contract of `Store::search` (`store::search`, issue 20): free text over the numbers,
//! parties and contract, every sort column in both directions, pages by number with the
//! total, and the filters, equal on every backend to the same question answered from the
//! whole listing in Rust. Run on every backend by [`crate::search_contract_tests`].

use chrono::Duration;
use clearance::{Actor, Lane};
use domain::codes::OfficeCode;
use store::search::{SearchRequest, SortKey, OFFSET_MAX};
use store::*;

use crate::contract::{other_declarant, reason, sample_body, submit_request, t0};

/// Opens the backend under test (a fresh, empty store each time it is made).
pub trait SearchHarness {
    fn open(&self) -> Box<dyn Store>;
}

/// The fields a filing varies in.
struct Filing {
    office: &'static str,
    other: bool,
    trader: &'static str,
    contract: &'static str,
    accepted: Option<Lane>,
}

const FILINGS: &[Filing] = &[
    Filing {
        office: "2200",
        other: false,
        trader: "北京示例进出口有限公司",
        contract: "CT-A-001",
        accepted: Some(Lane::Green),
    },
    Filing {
        office: "2233",
        other: false,
        trader: "Acme Trading Co",
        contract: "HT2025_77",
        accepted: None,
    },
    Filing {
        office: "5300",
        other: true,
        trader: "上海远洋贸易有限公司",
        contract: "CT-B-002",
        accepted: Some(Lane::Yellow),
    },
    Filing {
        office: "2200",
        other: true,
        trader: "ACME Shanghai Ltd",
        contract: "ct-a-003",
        accepted: None,
    },
    Filing {
        office: "2233",
        other: false,
        trader: "北京示例进出口有限公司",
        contract: "50%OFF",
        accepted: Some(Lane::Red),
    },
    Filing {
        office: "5300",
        other: false,
        trader: "Zeta 100% Goods",
        contract: "X-1",
        accepted: Some(Lane::Green),
    },
    Filing {
        office: "2200",
        other: true,
        trader: "深圳华南电子有限公司",
        contract: "CT-C-004",
        accepted: None,
    },
];

fn file_all(store: &dyn Store) -> Vec<DeclarationId> {
    let mut ids = Vec::new();
    for (i, f) in FILINGS.iter().enumerate() {
        let mut body: serde_json::Value =
            serde_json::from_str(&sample_body(900 + i as u64)).unwrap();
        body["trader"]["name"] = f.trader.into();
        body["contract_no"] = f.contract.into();
        let mut r = submit_request(&format!("search-{i}"), body.to_string());
        r.declaration_office = OfficeCode::parse(f.office).unwrap();
        // Filed out of id order by time, so that sorting by time is not sorting by id.
        r.now = t0() + Duration::minutes(((i as i64) * 37) % 11);
        if f.other {
            r.declarant = other_declarant();
            r.actor = Actor::Enterprise {
                uscc: other_declarant(),
            };
        }
        let id = match f.accepted {
            Some(lane) => {
                store
                    .submit_reviewed(
                        r,
                        AutomaticReview::Accept {
                            lane,
                            reasons: vec![reason()],
                            assessment: None,
                        },
                    )
                    .unwrap()
                    .id
            }
            None => store.submit(r).unwrap().id,
        };
        ids.push(id);
    }
    ids
}

fn everything(store: &dyn Store) -> Vec<DeclarationSummary> {
    let page = store
        .list(
            &ListFilter::default(),
            &PageRequest {
                after: None,
                limit: PAGE_MAX,
            },
        )
        .unwrap();
    assert!(page.next.is_none());
    page.items
}

fn ask(store: &dyn Store, req: SearchRequest) -> (Vec<DeclarationId>, u64) {
    let got = store.search(&req).unwrap();
    (got.items.iter().map(|d| d.id).collect(), got.total)
}

fn text(t: &str) -> SearchRequest {
    SearchRequest {
        text: Some(t.into()),
        limit: 50,
        ..Default::default()
    }
}

fn sorted_ids(mut ids: Vec<DeclarationId>) -> Vec<DeclarationId> {
    ids.sort();
    ids
}

/// Free text: each term a substring of a number, a party or the contract, ASCII case ignored,
/// wildcards taken literally; combined with the filters.
pub fn free_text_matches_numbers_parties_and_contracts(h: &dyn SearchHarness) {
    let store = h.open();
    let s = store.as_ref();
    let ids = file_all(s);
    let all = everything(s);
    let find = |t: &str| sorted_ids(ask(s, text(t)).0);
    let of = |idx: &[usize]| sorted_ids(idx.iter().map(|&i| ids[i]).collect());

    assert_eq!(find("北京示例"), of(&[0, 4]));
    assert_eq!(find("acme"), of(&[1, 3]), "ASCII case ignored");
    assert_eq!(find("ACME shanghai"), of(&[3]), "every term must match");
    assert_eq!(find("CT-A"), of(&[0, 3]));
    assert_eq!(find("ht2025_77"), of(&[1]));
    assert_eq!(
        find("2025_"),
        of(&[1]),
        "`_` is a character, not a wildcard"
    );
    assert_eq!(find("50%"), of(&[4]), "`%` is a character, not a wildcard");
    assert_eq!(find("100%"), of(&[5]));
    assert_eq!(find("nothing-like-this"), Vec::<DeclarationId>::new());
    // The declarant's USCC and the pre-entry number.
    let other = other_declarant().to_string();
    assert_eq!(find(&other[4..14]), of(&[2, 3, 6]));
    let d = all.iter().find(|d| d.id == ids[5]).unwrap();
    assert_eq!(find(&d.pre_entry_no.to_string()), of(&[5]));
    // A declaration number, given at acceptance.
    let numbered = all.iter().find(|d| d.id == ids[2]).unwrap();
    let dno = numbered
        .declaration_no
        .expect("accepted, numbered")
        .to_string();
    assert_eq!(find(&dno), of(&[2]));
    // Blank text: no condition.
    assert_eq!(ask(s, text("   ")).1, FILINGS.len() as u64);

    // With filters: office, declarant, lane, date range.
    let mut r = text("ct");
    r.filter.declaration_office = Some(OfficeCode::parse("2200").unwrap());
    assert_eq!(sorted_ids(ask(s, r).0), of(&[0, 3, 6]));
    let mut r = text("ct");
    r.filter.declarant = Some(other_declarant());
    assert_eq!(sorted_ids(ask(s, r).0), of(&[2, 3, 6]));
    let mut r = text("有限公司");
    r.filter.lane = Some(Lane::Yellow);
    assert_eq!(ask(s, r), (vec![ids[2]], 1));
    let (from, to) = (t0() + Duration::minutes(3), t0() + Duration::minutes(8));
    let mut r = text("");
    r.filter.submitted_from = Some(from);
    r.filter.submitted_to = Some(to);
    let want: Vec<DeclarationId> = sorted_ids(
        all.iter()
            .filter(|d| d.submitted_at >= from && d.submitted_at < to)
            .map(|d| d.id)
            .collect(),
    );
    assert!(!want.is_empty() && want.len() < all.len(), "{want:?}");
    assert_eq!(sorted_ids(ask(s, r).0), want);
    let mut r = text("ct");
    r.filter.offices = Some(vec![]);
    assert_eq!(
        ask(s, r),
        (vec![], 0),
        "an empty office scope matches nothing"
    );
    let mut r = text("ct");
    r.filter.offices = Some(vec![
        OfficeCode::parse("5300").unwrap(),
        OfficeCode::parse("2233").unwrap(),
    ]);
    assert_eq!(sorted_ids(ask(s, r).0), of(&[2]));
}

/// Every sort column in both directions orders as the same sort done in Rust (ties by id in
/// the same direction, absent values last); pages by number concatenate to the whole, with
/// the total on each, also past the end.
pub fn every_sort_and_page_agrees_with_the_whole(h: &dyn SearchHarness) {
    let store = h.open();
    let s = store.as_ref();
    file_all(s);
    let all = everything(s);
    let n = all.len() as u64;
    for key in SortKey::ALL {
        for descending in [false, true] {
            let mut want = all.clone();
            let text_of = |d: &DeclarationSummary| -> Option<String> {
                match key {
                    SortKey::SubmittedAt => {
                        Some(format!("{:020}", d.submitted_at.timestamp_millis()))
                    }
                    SortKey::PreEntryNo => Some(d.pre_entry_no.to_string()),
                    SortKey::DeclarationNo => d.declaration_no.map(|x| x.to_string()),
                    SortKey::Declarant => Some(d.declarant.to_string()),
                    SortKey::DeclarationOffice => Some(d.declaration_office.to_string()),
                    SortKey::Direction => Some(d.direction.to_string()),
                    SortKey::Status => Some(d.status.as_str().to_owned()),
                    SortKey::Lane => d.lane.map(|l| l.as_str().to_owned()),
                }
            };
            want.sort_by(|a, b| {
                let (ka, kb) = (text_of(a), text_of(b));
                match (ka, kb) {
                    (None, None) => {}
                    (None, Some(_)) => return std::cmp::Ordering::Greater,
                    (Some(_), None) => return std::cmp::Ordering::Less,
                    (Some(x), Some(y)) => {
                        let o = if descending { y.cmp(&x) } else { x.cmp(&y) };
                        if o.is_ne() {
                            return o;
                        }
                    }
                }
                if descending {
                    b.id.cmp(&a.id)
                } else {
                    a.id.cmp(&b.id)
                }
            });
            let want: Vec<DeclarationId> = want.iter().map(|d| d.id).collect();
            let whole = SearchRequest {
                sort: key,
                descending,
                limit: 50,
                ..Default::default()
            };
            assert_eq!(
                ask(s, whole.clone()),
                (want.clone(), n),
                "{key:?} desc={descending}"
            );
            // Pages of 3 by number.
            let mut paged = Vec::new();
            for page in 0..3 {
                let (got, total) = ask(
                    s,
                    SearchRequest {
                        offset: page * 3,
                        limit: 3,
                        ..whole.clone()
                    },
                );
                assert_eq!(total, n, "{key:?} page {page}");
                paged.extend(got);
            }
            assert_eq!(paged, want, "{key:?} desc={descending} by pages");
        }
    }
    // Past the end: no rows, the total still counted.
    let (items, total) = ask(
        s,
        SearchRequest {
            offset: 30,
            limit: 10,
            ..Default::default()
        },
    );
    assert_eq!((items, total), (vec![], n));
    // Bounds refused the same way.
    for bad in [
        SearchRequest {
            limit: 0,
            ..Default::default()
        },
        SearchRequest {
            limit: 10,
            offset: OFFSET_MAX,
            ..Default::default()
        },
        SearchRequest {
            limit: 10,
            text: Some("a b c d e f".into()),
            ..Default::default()
        },
    ] {
        let err = s.search(&bad).expect_err("refused");
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    }
}

/// The dashboard's drill-down filters (issue 20 item 8): a goods line's commodity code by
/// prefix, any line of the declaration; the trading country exactly; with the other filters
/// and counted in the total. Bad values are refused the same way on every backend.
pub fn commodity_and_country_filters(h: &dyn SearchHarness) {
    let store = h.open();
    let s = store.as_ref();
    // (first line's code, second line's code if any, trading country)
    let shapes: [(&str, Option<&str>, &str); 4] = [
        ("8471300000", None, "SGP"),
        ("8517130000", Some("8471410000"), "USA"),
        ("0901210000", None, "USA"),
        ("8517130000", None, "DEU"),
    ];
    let mut ids = Vec::new();
    for (i, (first, second, country)) in shapes.iter().enumerate() {
        let mut body: serde_json::Value =
            serde_json::from_str(&sample_body(700 + i as u64)).unwrap();
        // One line of the sample's two, then the shape's.
        body["items"].as_array_mut().unwrap().truncate(1);
        body["items"][0]["commodity_code"] = (*first).into();
        if let Some(code) = second {
            let mut line = body["items"][0].clone();
            line["item_no"] = "2".into();
            line["commodity_code"] = (*code).into();
            body["items"].as_array_mut().unwrap().push(line);
        }
        body["trading_country"] = (*country).into();
        let r = submit_request(&format!("drill-{i}"), body.to_string());
        ids.push(store_submit(s, r));
    }
    let find = |commodity: Option<&str>, country: Option<&str>| {
        let mut got = ask(
            s,
            SearchRequest {
                commodity: commodity.map(str::to_owned),
                country: country.map(str::to_owned),
                limit: 50,
                ..Default::default()
            },
        );
        got.0.sort();
        got
    };
    assert_eq!(
        find(Some("8471"), None),
        (vec![ids[0], ids[1]], 2),
        "any line"
    );
    assert_eq!(find(Some("8471300000"), None), (vec![ids[0]], 1));
    assert_eq!(find(Some("85"), None), (vec![ids[1], ids[3]], 2));
    assert_eq!(find(None, Some("USA")), (vec![ids[1], ids[2]], 2));
    assert_eq!(
        find(Some("85"), Some("USA")),
        (vec![ids[1]], 1),
        "both at once"
    );
    assert_eq!(find(Some("39"), None), (vec![], 0));
    assert_eq!(find(None, Some("JPN")), (vec![], 0));
    for (commodity, country) in [
        (Some("8"), None),
        (Some("84%"), None),
        (Some("84713000001"), None),
        (None, Some("usa")),
        (None, Some("U_A")),
    ] {
        let err = s
            .search(&SearchRequest {
                commodity: commodity.map(str::to_owned),
                country: country.map(str::to_owned),
                limit: 10,
                ..Default::default()
            })
            .expect_err("refused");
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    }
}

fn store_submit(s: &dyn Store, r: SubmitRequest) -> DeclarationId {
    s.submit(r).unwrap().id
}

/// Runs the suite as `#[test]`s: `search_contract_tests!(make_harness())`.
#[macro_export]
macro_rules! search_contract_tests {
    ($make:expr) => {
        #[test]
        fn search_free_text_matches_numbers_parties_and_contracts() {
            let harness = $make;
            $crate::search_contract::free_text_matches_numbers_parties_and_contracts(&harness);
        }
        #[test]
        fn search_commodity_and_country_filters() {
            let harness = $make;
            $crate::search_contract::commodity_and_country_filters(&harness);
        }
        #[test]
        fn search_every_sort_and_page_agrees_with_the_whole() {
            let harness = $make;
            $crate::search_contract::every_sort_and_page_agrees_with_the_whole(&harness);
        }
    };
}
