//! Check digits of IMO numbers and ISO 6346 container numbers, and the other codes.

use cargo_control::*;
use domain::codes::CodeError;
use proptest::prelude::*;

#[test]
fn imo_numbers() {
    for ok in ["9074729", "IMO9074729", "IMO 9074729", "9176187", "8814275"] {
        assert!(ImoNumber::parse(ok).is_ok(), "{ok}");
    }
    assert_eq!(ImoNumber::parse("IMO 9074729").unwrap().as_str(), "9074729");
    assert_eq!(
        ImoNumber::parse("9074728").unwrap_err(),
        CodeError::CheckCharacter {
            expected: '9',
            found: '8'
        }
    );
    assert_eq!(ImoNumber::parse("907472").unwrap_err().code(), "length");
    assert_eq!(ImoNumber::parse("90747A9").unwrap_err().code(), "character");
}

#[test]
fn container_numbers() {
    for ok in ["CSQU3054383", "ABCU1234560"] {
        assert!(ContainerNo::parse(ok).is_ok(), "{ok}");
    }
    assert_eq!(
        ContainerNo::parse("CSQU3054383").unwrap().owner_code(),
        "CSQ"
    );
    assert_eq!(
        ContainerNo::parse("CSQU3054384").unwrap_err(),
        CodeError::CheckCharacter {
            expected: '3',
            found: '4'
        }
    );
    assert_eq!(
        ContainerNo::parse("CSQX3054383").unwrap_err().code(),
        "character"
    );
    assert_eq!(
        ContainerNo::parse("csqu3054383").unwrap_err().code(),
        "character"
    );
    assert_eq!(
        ContainerNo::parse("CSQU 3054383").unwrap_err().code(),
        "length"
    );
}

#[test]
fn other_codes() {
    assert!(FlightNo::parse("CA981").is_ok());
    assert!(FlightNo::parse("3U8881A").is_ok());
    assert!(FlightNo::parse("12345").is_err());
    assert!(FlightNo::parse("CA").is_err());
    assert!(TruckPlate::parse("粤Z1234港").is_ok());
    assert!(TruckPlate::parse("粤B 12345").is_err());
    assert!(BillNo::parse("COSU6123456780").is_ok());
    assert!(BillNo::parse("cosu1").is_err());
    assert!(BillNo::parse(&"A".repeat(36)).is_err());
    assert_eq!(
        serde_json::to_string(&BillNo::parse("MBL-1").unwrap()).unwrap(),
        "\"MBL-1\""
    );
    assert!(serde_json::from_str::<ContainerNo>("\"CSQU3054384\"").is_err());
}

proptest! {
    #[test]
    fn container_numbers_round_trip_and_one_digit_off_fails(owner in "[A-Z]{3}", cat in "[UJZ]", serial in "[0-9]{6}", bump in 1u8..10) {
        let ten = format!("{owner}{cat}{serial}");
        let mut bytes = [0u8; 10];
        bytes.copy_from_slice(ten.as_bytes());
        let check = ContainerNo::check_digit(&bytes) as char;
        let good = format!("{ten}{check}");
        let parsed = ContainerNo::parse(&good).unwrap();
        prop_assert_eq!(ContainerNo::parse(&parsed.to_string()).unwrap(), parsed);
        let wrong = (b'0' + ((check as u8 - b'0' + bump) % 10)) as char;
        let bad = format!("{ten}{wrong}");
        prop_assert!(ContainerNo::parse(&bad).is_err());
    }

    #[test]
    fn imo_numbers_round_trip(six in "[0-9]{6}") {
        let mut b = [0u8; 6];
        b.copy_from_slice(six.as_bytes());
        let s = format!("{six}{}", ImoNumber::check_digit(&b) as char);
        let imo = ImoNumber::parse(&s).unwrap();
        prop_assert_eq!(ImoNumber::parse(&imo.to_string()).unwrap(), imo);
    }

    #[test]
    fn bill_numbers_round_trip(s in "[A-Z0-9-]{1,35}") {
        let b = BillNo::parse(&s).unwrap();
        prop_assert_eq!(b.as_str(), s.as_str());
        prop_assert_eq!(BillNo::parse(&b.to_string()).unwrap(), b);
    }
}
