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
            withdrawn: None,
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

// Tariff-quota certificates (关税配额证明). Import and Export Duties Regulations art. 11: the
// in-quota rate for imports within the quota; docs/DOMAIN.md §4: "the in-quota rate only within
// a quota certificate's balance". The certificate is checked and drawn on like a licence
// (docs/DOMAIN.md §7: never used beyond its quantity).

fn certificate(q: Decimal) -> Licence {
    Licence {
        licence_no: "TRQ-1".into(),
        kind: LicenceKind::TariffQuota,
        holder: uscc("91310115MA1K4Q7B4Y"),
        commodity: "1001,1101".into(),
        unit: "035".into(),
        quantity: q,
        valid_from: d("2026-01-01"),
        valid_to: d("2026-12-31"),
        issued_by: "ndrc".into(),
    }
}

fn quota_standing(q: Decimal, reserved: Decimal) -> impl Fn(&str) -> Option<Standing> {
    move |no| match no {
        "TRQ-1" => Some(Standing {
            licence: certificate(q),
            reserved,
            written_off: dec!(0),
            withdrawn: None,
        }),
        "L-001" => Some(Standing {
            licence: licence(dec!(10)),
            reserved: dec!(0),
            written_off: dec!(0),
            withdrawn: None,
        }),
        _ => None,
    }
}

fn quota_need(item_no: u16, no: &str, kg: Decimal) -> Need {
    Need {
        item_no,
        commodity: HsCode::parse("1001990000").unwrap(),
        kind: LicenceKind::TariffQuota,
        licence_no: Some(no.into()),
        quantities: vec![("035".into(), kg)],
    }
}

#[test]
fn a_certificate_is_drawn_on_by_every_item_naming_it() {
    let holder = uscc("91310115MA1K4Q7B4Y");
    let claims = check_quota_certificates(
        &[
            quota_need(1, "TRQ-1", dec!(600)),
            quota_need(2, "TRQ-1", dec!(400)),
        ],
        &holder,
        d("2026-06-01"),
        quota_standing(dec!(1000), dec!(0)),
    )
    .unwrap();
    assert_eq!(
        claims,
        vec![Claim {
            licence_no: "TRQ-1".into(),
            quantity: dec!(1000)
        }]
    );
    assert!(certificate(dec!(1)).covers(&HsCode::parse("1101000001").unwrap()));
    assert!(!certificate(dec!(1)).covers(&HsCode::parse("1005900010").unwrap()));
}

/// A filing over the balance is refused whole, on the item's own field, saying what to do with
/// the excess (docs/EPORT.md: refused, not split).
#[test]
fn over_the_balance_other_holder_expired_or_a_licence_are_refused_on_the_item() {
    let holder = uscc("91310115MA1K4Q7B4Y");
    let other = uscc("91440300MA5FT3XKX8");
    let on = d("2026-06-01");
    let err = check_quota_certificates(
        &[
            quota_need(1, "TRQ-1", dec!(300)),
            quota_need(2, "TRQ-1", dec!(300)),
        ],
        &holder,
        on,
        quota_standing(dec!(1000), dec!(500)),
    )
    .unwrap_err();
    assert_eq!(err.len(), 1);
    assert_eq!(err[0].code, "quota_certificate_exhausted");
    assert_eq!(err[0].field, "items[0].quota_certificate_no");
    assert!(
        err[0].message_en.contains("500 left"),
        "{}",
        err[0].message_en
    );
    assert!(err[0].message_en.contains("out-of-quota rate"));
    assert!(err[0].message_zh.contains("关税配额外税率"));

    let codes = |needs: &[Need], who: &Uscc, on: NaiveDate| -> Vec<(String, String)> {
        check_quota_certificates(needs, who, on, quota_standing(dec!(1000), dec!(0)))
            .unwrap_err()
            .into_iter()
            .map(|r| (r.field, r.code))
            .collect()
    };
    let f2 = || "items[1].quota_certificate_no".to_string();
    assert_eq!(
        codes(&[quota_need(2, "TRQ-1", dec!(1))], &other, on),
        [(f2(), "quota_certificate_holder_mismatch".to_string())]
    );
    assert_eq!(
        codes(&[quota_need(2, "TRQ-1", dec!(1))], &holder, d("2027-01-01")),
        [(f2(), "quota_certificate_expired".to_string())]
    );
    assert_eq!(
        codes(&[quota_need(2, "TRQ-9", dec!(1))], &holder, on),
        [(f2(), "quota_certificate_not_found".to_string())]
    );
    // A licence's number is not a certificate (and does not cover wheat, nor count in kg).
    let got = codes(&[quota_need(2, "L-001", dec!(1))], &holder, on);
    assert_eq!(
        got[0],
        (f2(), "quota_certificate_kind_mismatch".to_string())
    );
    // The licence check is unchanged: its refusals stay on `licence_no`.
    let r = check_licences(&[need(Some("TRQ-1"), dec!(1))], &holder, on, |n| {
        quota_standing(dec!(1000), dec!(0))(n)
    })
    .unwrap_err();
    assert_eq!(r[0].field, "licence_no");
    assert_eq!(r[0].code, "licence_kind_mismatch");
    assert_eq!(r[0].message_en, "licence TRQ-1 is not an import licence");
}

#[test]
fn a_commodity_list_is_validated() {
    let mut c = certificate(dec!(1));
    assert!(c.validate().is_ok());
    c.commodity = "1001,x".into();
    assert!(c.validate().is_err());
    c.commodity = "1001,".into();
    assert!(c.validate().is_err());
    c.commodity = vec!["10"; COMMODITIES_MAX + 1].join(",");
    assert!(c.validate().is_err());
}

fn withdrawal(by: &str) -> Withdrawal {
    Withdrawal {
        reason: "holder's export rights revoked".into(),
        withdrawn_at: "2026-06-01T02:00:00Z".parse().unwrap(),
        withdrawn_by: by.into(),
    }
}

#[test]
fn a_withdrawn_licence_refuses_every_filing_naming_it() {
    let holder = uscc("91310115MA1K4Q7B4Y");
    let withdrawn = |no: &str| {
        (no == "L-001").then(|| Standing {
            licence: licence(dec!(10)),
            reserved: dec!(0),
            written_off: dec!(2),
            withdrawn: Some(withdrawal("commerce")),
        })
    };
    let refused = check_licences(
        &[need(Some("L-001"), dec!(1))],
        &holder,
        d("2026-06-02"),
        withdrawn,
    )
    .unwrap_err();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].code, "licence_withdrawn");
    assert_eq!(refused[0].field, LICENCE_FIELD);
    assert!(refused[0].message_zh.contains("撤销"), "{refused:?}");
    assert!(refused[0].message_en.contains("withdrawn"), "{refused:?}");
}

#[test]
fn only_the_issuer_withdraws_and_only_once() {
    let s = Standing {
        licence: licence(dec!(10)),
        reserved: dec!(3),
        written_off: dec!(0),
        withdrawn: None,
    };
    assert!(withdraw(Some(&s), "L-001", &withdrawal("COMMERCE")).is_ok());
    assert_eq!(
        withdraw(Some(&s), "L-001", &withdrawal("ndrc"))
            .unwrap_err()
            .code,
        "not_issuer"
    );
    assert_eq!(
        withdraw(None, "L-404", &withdrawal("commerce"))
            .unwrap_err()
            .code,
        "licence_not_found"
    );
    let mut blank = withdrawal("commerce");
    blank.reason = "  ".into();
    assert_eq!(
        withdraw(Some(&s), "L-001", &blank).unwrap_err().field,
        "reason"
    );
    let done = Standing {
        withdrawn: Some(withdrawal("commerce")),
        ..s.clone()
    };
    assert_eq!(
        withdraw(Some(&done), "L-001", &withdrawal("commerce"))
            .unwrap_err()
            .code,
        "licence_already_withdrawn"
    );
    assert!(write_off_refusal(&s).is_none());
    let r = write_off_refusal(&done).unwrap();
    assert_eq!(r.code, "licence_withdrawn");
    assert!(r.message_zh.contains("不能放行") && r.message_en.contains("cannot be released"));
}
