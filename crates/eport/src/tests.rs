use super::*;
use rust_decimal_macros::dec;

fn uscc(s: &str) -> Uscc {
    Uscc::parse(s).unwrap()
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn licence(q: Decimal) -> Licence {
    Licence {
        licence_no: "L-001".into(),
        kind: LicenceKind::Import,
        holder: uscc("91310115MA1K4Q7B4Y"),
        commodity: "8703".into(),
        unit: "003".into(),
        quantity: q,
        valid_from: d("2026-01-01"),
        valid_to: d("2026-12-31"),
        issued_by: "commerce".into(),
    }
}

fn need(no: Option<&str>, q: Decimal) -> Need {
    Need {
        item_no: 1,
        commodity: HsCode::parse("8703234190").unwrap(),
        kind: LicenceKind::Import,
        licence_no: no.map(str::to_owned),
        quantities: vec![("003".into(), q), ("035".into(), dec!(1500))],
    }
}

fn standing(reserved: Decimal) -> impl Fn(&str) -> Option<Standing> {
    move |no| {
        (no == "L-001").then(|| Standing {
            licence: licence(dec!(10)),
            reserved,
            written_off: dec!(0),
        })
    }
}

fn codes(r: Result<Vec<Claim>, Vec<Refusal>>) -> Vec<String> {
    r.unwrap_err().into_iter().map(|r| r.code).collect()
}

#[test]
fn a_valid_licence_is_claimed() {
    let holder = uscc("91310115MA1K4Q7B4Y");
    let claims = check_licences(
        &[need(Some("L-001"), dec!(3)), need(Some("L-001"), dec!(2))],
        &holder,
        d("2026-06-01"),
        standing(dec!(0)),
    )
    .unwrap();
    assert_eq!(
        claims,
        vec![Claim {
            licence_no: "L-001".into(),
            quantity: dec!(5)
        }]
    );
    assert!(licence(dec!(10)).validate().is_ok());
}

#[test]
fn refusals_say_why() {
    let holder = uscc("91310115MA1K4Q7B4Y");
    let other = uscc("91440300MA5FT3XKX8");
    let on = d("2026-06-01");
    assert_eq!(
        codes(check_licences(
            &[need(None, dec!(1))],
            &holder,
            on,
            standing(dec!(0))
        )),
        ["licence_missing"]
    );
    assert_eq!(
        codes(check_licences(
            &[need(Some("X"), dec!(1))],
            &holder,
            on,
            standing(dec!(0))
        )),
        ["licence_not_found"]
    );
    assert_eq!(
        codes(check_licences(
            &[need(Some("L-001"), dec!(1))],
            &other,
            on,
            standing(dec!(0))
        )),
        ["licence_holder_mismatch"]
    );
    assert_eq!(
        codes(check_licences(
            &[need(Some("L-001"), dec!(1))],
            &holder,
            d("2027-01-01"),
            standing(dec!(0))
        )),
        ["licence_expired"]
    );
    assert_eq!(
        codes(check_licences(
            &[need(Some("L-001"), dec!(1))],
            &holder,
            d("2025-12-31"),
            standing(dec!(0))
        )),
        ["licence_not_yet_valid"]
    );
    assert_eq!(
        codes(check_licences(
            &[need(Some("L-001"), dec!(2))],
            &holder,
            on,
            standing(dec!(9))
        )),
        ["licence_exhausted"]
    );
    let mut n = need(Some("L-001"), dec!(1));
    n.commodity = HsCode::parse("8704210000").unwrap_or(n.commodity);
    if n.commodity.to_string().starts_with("8704") {
        assert_eq!(
            codes(check_licences(&[n], &holder, on, standing(dec!(0)))),
            ["licence_commodity_mismatch"]
        );
    }
    let mut n = need(Some("L-001"), dec!(1));
    n.quantities.retain(|(u, _)| u != "003");
    assert_eq!(
        codes(check_licences(&[n], &holder, on, standing(dec!(0)))),
        ["licence_unit_mismatch"]
    );
}

#[test]
fn registry_check() {
    let u = uscc("91310115MA1K4Q7B4Y");
    let mut e = RegistryEntry {
        uscc: u,
        name: "上海".into(),
        status: RegistryStatus::Active,
    };
    assert_eq!(check_registry(&u, Some(&e), true), None);
    assert_eq!(check_registry(&u, None, false), None);
    assert_eq!(
        check_registry(&u, None, true).unwrap().code,
        "enterprise_not_registered"
    );
    e.status = RegistryStatus::Deregistered;
    assert_eq!(
        check_registry(&u, Some(&e), true).unwrap().code,
        "enterprise_deregistered"
    );
}
