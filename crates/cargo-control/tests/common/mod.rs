//! Builders shared by the tests and the benchmark.
#![allow(dead_code)]

use cargo_control::*;
use chrono::{DateTime, NaiveDate, Utc};
use domain::codes::{DeclarationNo, Direction, OfficeCode, Uscc};
use rust_decimal::Decimal;

pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub fn kg(s: &str) -> Decimal {
    s.parse().unwrap()
}

pub fn office(s: &str) -> OfficeCode {
    OfficeCode::parse(s).unwrap()
}

/// A valid USCC from a 17-character body.
pub fn uscc(body: &str) -> Uscc {
    let c = Uscc::check_character(body).unwrap();
    Uscc::parse(&format!("{body}{c}")).unwrap()
}

pub fn carrier_a() -> Uscc {
    uscc("91110000600037341")
}

pub fn carrier_b() -> Uscc {
    uscc("91310000MA1K00007")
}

pub fn as_carrier(u: Uscc) -> Actor {
    Actor::Carrier { uscc: u }
}

pub fn officer(o: &str) -> Actor {
    Actor::Officer {
        login: "wang".into(),
        office: office(o),
    }
}

pub fn system() -> Actor {
    Actor::System {
        component: "clearance".into(),
    }
}

pub fn bill_no(s: &str) -> BillNo {
    BillNo::parse(s).unwrap()
}

pub fn mid(s: &str) -> ManifestId {
    ManifestId::parse(s).unwrap()
}

pub fn decl_no(direction: Direction, serial: u32) -> DeclarationNo {
    DeclarationNo::new(office("2200"), 2024, direction, serial).unwrap()
}

pub fn bill(no: &str, packages: u32, weight: &str) -> Bill {
    Bill {
        bill_no: bill_no(no),
        kind: BillKind::Master,
        lines: vec![GoodsLine {
            packages,
            package_type: "CT".into(),
            gross_weight_kg: kg(weight),
            description: "laptops".into(),
            containers: vec![ContainerNo::parse("CSQU3054383").unwrap()],
        }],
    }
}

pub fn house(no: &str, master: &str, packages: u32, weight: &str) -> Bill {
    Bill {
        kind: BillKind::House {
            master: bill_no(master),
        },
        ..bill(no, packages, weight)
    }
}

pub fn voyage(direction: Direction) -> Voyage {
    Voyage {
        means: MeansOfTransport::Vessel {
            imo: ImoNumber::parse("IMO 9074729").unwrap(),
            name: "COSCO EXAMPLE".into(),
        },
        voyage_no: VoyageNo::parse("024E").unwrap(),
        direction,
        office: office("2201"),
    }
}

pub fn file(
    id: &str,
    kind: ManifestKind,
    direction: Direction,
    bills: Vec<Bill>,
) -> ManifestCommand {
    ManifestCommand {
        actor: as_carrier(carrier_a()),
        action: ManifestAction::File {
            manifest_id: mid(id),
            kind,
            voyage: voyage(direction),
            bills,
        },
    }
}

pub fn arrive(id: &str, at: &str) -> ManifestCommand {
    ManifestCommand {
        actor: Actor::Terminal { uscc: carrier_b() },
        action: ManifestAction::ReportArrival {
            manifest_id: mid(id),
            arrived_at: t(at),
        },
    }
}

pub fn match_cmd(bill: &str, decl: DeclarationNo, packages: u64, weight: &str) -> ManifestCommand {
    ManifestCommand {
        actor: system(),
        action: ManifestAction::MatchDeclaration {
            bill_no: bill_no(bill),
            declaration_no: decl,
            packages,
            gross_weight_kg: kg(weight),
        },
    }
}

pub fn write_off(bill: &str, decl: DeclarationNo) -> ManifestCommand {
    ManifestCommand {
        actor: system(),
        action: ManifestAction::WriteOff {
            bill_no: bill_no(bill),
            declaration_no: decl,
        },
    }
}

/// An import manifest `id` with the given bills, filed as original and arrived.
pub fn arrived_ledger(policy: MatchPolicy, id: &str, bills: Vec<Bill>) -> ManifestLedger {
    let mut ledger = ManifestLedger::new(policy);
    ledger
        .execute(
            &file(id, ManifestKind::Original, Direction::Import, bills),
            t("2024-05-06T01:00:00Z"),
        )
        .unwrap();
    ledger
        .execute(
            &arrive(id, "2024-05-06T02:00:00Z"),
            t("2024-05-06T03:00:00Z"),
        )
        .unwrap();
    ledger
}
